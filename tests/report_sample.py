"""A synthetic build (sessions with real image frames, an episodes log, stats, an output file)
shaped like what the interval task makes: for the report's tests and its benchmark
(bench/report_bench.py). Deterministic for a given seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import orjson
from PIL import Image, ImageDraw

from toolbox.core.models import (
    Episode,
    EpisodeEvidence,
    EvidenceAction,
    EvidenceFrame,
    EvidenceWord,
    LoggedEpisode,
    Source,
    ToolCall,
    ToolSpec,
    Turn,
    stable_id,
)

WINDOWS = [
    ("Inbox - Mail", "thunderbird"),
    ("report.md - Editor", "gedit"),
    ("Terminal", "xterm"),
    ("Search - Browser", "firefox"),
    ("Budget.xlsx - Sheets", "libreoffice"),
]
WORDS = ["File", "Edit", "View", "Send", "Reply", "Archive", "Save", "Open", "Search", "Settings", "Total", "Inbox"]
TOOLS = [
    ToolSpec(
        name="click",
        description="Click on a screen element.",
        parameters={
            "type": "object",
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}, "target": {"type": "string"}},
            "required": ["x", "y"],
        },
    ),
    ToolSpec(
        name="type_text",
        description="Type text.",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
]


@dataclass
class SampleBuild:
    output: Path  # openai JSONL of the kept episodes
    stats: Path
    episodes_log: Path
    sessions: list[Path]
    kept: int
    dropped: int


def draw_frame(
    path: Path, size: tuple[int, int], title: str, words: list[tuple[str, tuple[int, int, int, int]]], shade: int
) -> None:
    image = Image.new("RGB", size, (236 - shade % 40, 240, 246))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], 28), fill=(52, 64, 84))
    legible = size[0] >= 320  # tiny frames (many-episode tests) skip the slow text rendering
    if legible:
        draw.text((10, 8), title, fill=(255, 255, 255))
    draw.rectangle((0, 28, 150, size[1]), fill=(222, 226, 232))
    for text, box in words:
        draw.rectangle(box, outline=(120, 130, 150), fill=(255, 255, 255))
        if legible:
            draw.text((box[0] + 6, box[1] + 6), text, fill=(20, 20, 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "WEBP" if path.suffix == ".webp" else "PNG", **({"quality": 70} if path.suffix == ".webp" else {}))


def make_sample_build(
    root: Path,
    episodes: int = 12,
    sessions: int = 2,
    frames_per_episode: int = 2,
    size: tuple[int, int] = (640, 400),
    drop_every: int = 4,
    seed: int = 0,
    image_ext: str = ".png",
) -> SampleBuild:
    """`episodes` intervals spread over `sessions` recorded sessions; every `drop_every`-th one is
    dropped (alternating two reasons). Frames alternate PNG and WebP unless `image_ext` is fixed."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    out_dir = root / "out"
    out_dir.mkdir(exist_ok=True)
    session_dirs: list[Path] = []
    log_rows: list[bytes] = []
    output_rows: list[bytes] = []
    from toolbox.formats.openai import OpenAIFormat

    fmt = OpenAIFormat()
    per_session = -(-episodes // sessions)
    kept = dropped = kept_tokens = 0
    drops: dict[tuple[str, str], int] = {}
    for s in range(sessions):
        session_id = f"20260301T0{s % 10}0000Z-sample{s}"
        session_dir = root / "sessions" / session_id
        session_dirs.append(session_dir)
        started = 1772323200.0 + s * 86400
        count = min(per_session, episodes - s * per_session)
        task = ["Answer the budget mail", "Write the weekly report", "Find the release notes"][s % 3]
        session_dir.mkdir(parents=True, exist_ok=True)
        (session_dir / "session.json").write_bytes(
            orjson.dumps(
                {
                    "schema_version": 1,
                    "id": session_id,
                    "started_at": started,
                    "ended_at": started + 30 * max(count, 1) + 10,
                    "platform": "linux",
                    "monitors": [{"index": 0, "left": 0, "top": 0, "width": size[0], "height": size[1]}],
                    "task": task,
                }
            )
        )
        for i in range(max(count, 0)):
            n = s * per_session + i
            title, app = WINDOWS[n % len(WINDOWS)]
            start = started + 5 + i * 30
            words = []
            for w in range(4):
                x0, y0 = 170 + (w % 2) * 200, 60 + (w // 2) * 80 + rng.randrange(0, 40)
                words.append((WORDS[(n + w) % len(WORDS)], (x0, y0, x0 + 120, y0 + 28)))
            frames = []
            for f in range(frames_per_episode):
                ext = image_ext if image_ext else (".webp" if (n + f) % 2 else ".png")
                rel = f"frames/{i * frames_per_episode + f:06d}{ext}"
                draw_frame(session_dir / rel, size, title, words, shade=n * 7 + f)
                frames.append(
                    EvidenceFrame(
                        path=rel,
                        t=start + f * 10,
                        width=size[0],
                        height=size[1],
                        reason="before" if f == 0 else "after",
                    )
                )
            actions = []
            for a, (text, box) in enumerate(words[:2]):
                x, y = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
                actions.append(
                    EvidenceAction(
                        kind="click",
                        t=start + 1 + a,
                        x=x,
                        y=y,
                        target=text,
                        frame_before=frames[0].path,
                        frame_after=frames[-1].path,
                        frame_x=x,
                        frame_y=y,
                    )
                )
            ocr = [
                EvidenceWord(
                    text=text,
                    box=(box[0] + 4, box[1] + 4, box[0] + 14 + 7 * len(text), box[1] + 20),
                    conf=0.93,
                    mid=((box[0] + box[2]) / 2 / size[0], (box[1] + box[3]) / 2 / size[1]),
                )
                for text, box in words
            ]
            turns = [Turn(role="user", content=f"{task}: step {i + 1} in {title}")]
            for a, action in enumerate(actions):
                call = ToolCall(
                    id=f"call_{a}", name="click", arguments={"x": action.x, "y": action.y, "target": action.target}
                )
                turns += [
                    Turn(role="assistant", tool_calls=[call]),
                    Turn(role="tool", tool_call_id=call.id, name="click", content=f"clicked {action.target}"),
                ]
            turns.append(Turn(role="assistant", content=f"Done with step {i + 1}."))
            evidence = EpisodeEvidence(
                session=session_id,
                session_path=str(session_dir.resolve()),
                interval=i,
                start=start,
                end=start + 20,
                cut="idle",
                windows=[title],
                apps=[app],
                frames=frames,
                main_frame=frames[0].path,
                actions=actions,
                ocr=ocr,
            )
            episode = Episode(
                id=stable_id(session_id, i),
                system="You operate a computer for the user with the tools given.",
                tools=TOOLS,
                turns=turns,
                source=Source(dataset="sessions", session=session_id, interval=(start, start + 20)),
                metadata=evidence.as_metadata(),
            )
            if drop_every and n % drop_every == drop_every - 1:
                reason = (
                    ("quality", "too few tool calls") if (n // drop_every) % 2 else ("near_dedupe", "near duplicate")
                )
                entry = LoggedEpisode(
                    status="dropped",
                    id=episode.id,
                    filter=reason[0],
                    reason=reason[1],
                    detail=f"episode {n}: detail of the drop",
                    episode=episode,
                )
                drops[reason] = drops.get(reason, 0) + 1
                dropped += 1
            else:
                entry = LoggedEpisode(
                    status="kept", id=episode.id, tokens=200 + (n * 37) % 90, episode=episode
                )  # synthetic counts
                output_rows.append(orjson.dumps(fmt.encode(episode)))
                kept += 1
                kept_tokens += entry.tokens or 0
            log_rows.append(entry.model_dump_json(exclude_defaults=True).encode("utf-8"))
    output = out_dir / "data.jsonl"
    output.write_bytes(b"\n".join(output_rows) + b"\n")
    log = out_dir / "data.jsonl.episodes.jsonl"
    log.write_bytes(b"\n".join(log_rows) + b"\n")
    stats = out_dir / "data.jsonl.stats.json"
    stats.write_bytes(
        orjson.dumps(
            {
                "read": {"sessions": sessions},
                "episodes": kept + dropped,
                "dropped": [{"filter": f, "reason": r, "count": c} for (f, r), c in sorted(drops.items())],
                "skipped": {},
                "problems": [],
                "written": kept,
                "tokens": kept_tokens,
                "llm_cost_usd": 0.0123,
                "llm_requests": kept + dropped,
            }
        )
    )
    return SampleBuild(output, stats, log, session_dirs, kept, dropped)


def make_sample_session(root: Path, session_id: str = "20260401T090000Z-test") -> Path:
    """A small recorded session on disk (session.json, events.jsonl, PNG and WebP frames) with three
    bursts of activity 18 s apart: click + typing, a lone click, click + typing again (so a build
    with exact_dedupe and quality(min_turns=5) keeps one interval and drops two, for two reasons)."""
    folder = root / session_id
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    t0 = 1775034000.0
    (folder / "session.json").write_bytes(
        orjson.dumps(
            {
                "schema_version": 1,
                "id": session_id,
                "started_at": t0,
                "ended_at": t0 + 60,
                "platform": "linux",
                "monitors": [{"index": 0, "left": 0, "top": 0, "width": 640, "height": 400}],
                "recorder": {},
                "task": "File the expense report",
            }
        )
    )
    events: list[dict] = [
        {"t": t0 + 1, "type": "window", "title": "Expenses - Browser", "app": "firefox", "bounds": [0, 0, 640, 400]}
    ]

    def frame(n: int, t: float, reason: str, ext: str) -> str:
        rel = f"frames/{n:06d}{ext}"
        draw_frame(
            folder / rel,
            (640, 400),
            f"Expenses - Browser ({n})",
            [("Submit", (100, 100, 220, 130)), ("Amount", (100, 160, 260, 190))],
            shade=n * 9,
        )
        events.append(
            {
                "t": t,
                "type": "frame",
                "file": rel,
                "monitor": 0,
                "width": 640,
                "height": 400,
                "reason": reason,
                "hash": str(n),
            }
        )
        return rel

    for k, base in enumerate([t0 + 2, t0 + 20, t0 + 40]):
        before = frame(2 * k, base, "before", ".png")
        events.append(
            {
                "t": base + 0.1,
                "type": "click",
                "x": 160,
                "y": 115,
                "button": "left",
                "pressed": True,
                "frame_before": before,
            }
        )
        events.append({"t": base + 0.2, "type": "click", "x": 160, "y": 115, "button": "left", "pressed": False})
        if k != 1:
            for i, char in enumerate("hello"):
                events.append({"t": base + 1 + i * 0.1, "type": "key", "key": char, "char": char, "pressed": True})
                events.append({"t": base + 1.05 + i * 0.1, "type": "key", "key": char, "char": char, "pressed": False})
        frame(2 * k + 1, base + 3, "after", ".webp")
    events.sort(key=lambda e: e["t"])
    (folder / "events.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    return folder
