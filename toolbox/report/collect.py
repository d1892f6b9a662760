"""Gather what the report shows: the build's stats and every episode (kept or dropped), turned
into the plain JSON the page renders.

Two inputs are possible:
- the episodes log `<output>.episodes.jsonl`, written by the pipeline when a report is asked for
  (full episodes with their evidence: frames, actions, OCR; dropped ones with the reason);
- otherwise the output file itself, read back through its format (lossy: no evidence, no
  dropped episodes), so a report can still be made of any glaive/sharegpt/openai file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from toolbox.core.io import BadLine, read_jsonl
from toolbox.core.models import Episode, EpisodeEvidence, LoggedEpisode
from toolbox.core.plugin import BuildContext
from toolbox.core.session import FrameFileError, session_file
from toolbox.core.tokens import episode_tokens


@dataclass
class FrameFile:
    """A frame the page shows: where the image is, and what to draw on it."""

    source: Path  # the image file
    width: int
    height: int
    t: float
    reason: str = ""
    marks: list[dict[str, Any]] = field(default_factory=list)  # clicks etc., in frame pixels
    ocr: list[list[Any]] = field(default_factory=list)  # [x0, y0, x1, y1, text, conf]


def read_episodes_log(path: Path, problems: list[str]) -> Iterator[LoggedEpisode]:
    """Rows of an episodes log; a bad line is reported (file:line) and skipped."""
    for number, data in read_jsonl(path):
        try:
            if isinstance(data, BadLine):
                raise ValueError(data.reason)
            yield LoggedEpisode.model_validate(data)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            problems.append(f"{path}:{number}: not an episode log row ({str(exc).splitlines()[0][:160]}); skipped")


def read_output_file(path: Path, problems: list[str]) -> Iterator[LoggedEpisode]:
    """Episodes read back from a glaive/sharegpt/openai file (all of them were kept)."""
    from toolbox.core import registry

    registry.load_builtins()
    ctx = BuildContext(base_dir=path.parent)
    plugin = registry.get("datasets", "file")
    dataset = plugin(plugin.Options(path=str(path)), ctx)
    dataset.plugin_name = "file"
    for episode in dataset.records():
        yield LoggedEpisode(status="kept", id=episode.id, episode=episode)
    problems.extend(ctx.stats.problems)


def read_stats(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        problems.append(f"{path}: cannot read the build stats ({exc}); summary left out")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: the build stats are not a JSON object; summary left out")
        return {}
    return data


# ---------------------------------------------------------------------------------------------
# episode -> page data


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def episode_evidence(episode: Episode, problems: list[str]) -> EpisodeEvidence:
    """The evidence an interval task put in the episode's metadata: none for an episode read
    from a file, nor (with a problem saying so) for metadata of another shape."""
    try:
        return EpisodeEvidence.model_validate(episode.metadata)
    except ValidationError as exc:
        first = str(exc).splitlines()[0][:160]
        problems.append(
            f"episode {episode.id}: its metadata is not an interval's evidence ({first}); shown without frames"
        )
        return EpisodeEvidence()


def episode_frames(evidence: EpisodeEvidence, problems: list[str] | None = None) -> list[FrameFile]:
    """The frames of an episode's intervals in time order, with its clicks and the OCR boxes of
    its main frame, in frame pixels. A frame whose file is not inside the session folder (see
    `session_file`) is left out, named in `problems`."""
    folder = Path(evidence.session_path) if evidence.session_path else None
    frames: list[FrameFile] = []
    by_path: dict[str, int] = {}
    for ref in sorted(evidence.frames, key=lambda f: f.t):
        if ref.path in by_path:
            continue
        try:
            if folder is None:
                raise FrameFileError(f"frame file {ref.path} has no session folder")
            source = session_file(folder, ref.path)
        except FrameFileError as exc:
            if problems is not None:
                problems.append(f"session {evidence.session or '?'}: {exc}; frame left out")
            continue
        by_path[ref.path] = len(frames)
        frames.append(FrameFile(source=source, width=ref.width, height=ref.height, t=ref.t, reason=ref.reason))
    if not frames:
        return frames
    for number, action in enumerate(evidence.actions, start=1):
        if action.x is None or action.y is None:
            continue
        where = by_path.get(action.frame_before) if action.frame_before else None
        if where is not None and action.frame_x is not None and action.frame_y is not None:
            x, y = action.frame_x, action.frame_y  # the task mapped the point onto its frame (monitor offset, scale)
        else:  # no frame before it was recorded: the screen point as is, on the frame taken last
            x, y = action.x, action.y
            if where is None:
                where = _frame_at(frames, action.t)
        mark: dict[str, Any] = {"n": number, "kind": action.kind, "x": round(float(x), 1), "y": round(float(y), 1)}
        if action.x2 is not None and action.y2 is not None:  # the drag's end, same offset
            mark["x2"], mark["y2"] = (
                round(float(x + action.x2 - action.x), 1),
                round(float(y + action.y2 - action.y), 1),
            )
        if action.target:
            mark["target"] = action.target
        frames[where].marks.append(mark)
    main = by_path.get(evidence.main_frame) if evidence.main_frame else None
    if main is not None:
        frames[main].ocr = [[*(round(float(v), 1) for v in w.box), w.text, round(w.conf, 3)] for w in evidence.ocr]
    return frames


def _frame_at(frames: list[FrameFile], t: float) -> int:
    """The last frame taken at or before `t` (the screen an action happened on), else the first."""
    before = [i for i, frame in enumerate(frames) if frame.t <= t]
    return before[-1] if before else 0


def first_user_text(episode: Episode) -> str:
    for turn in episode.turns:
        if turn.role == "user" and turn.content:
            return turn.content
    return ""


def gist(episode: Episode, limit: int = 160) -> str:
    """What the episode did, in one line: its tool calls, then the assistant's last words."""
    calls = [c.name for t in episode.turns for c in t.tool_calls]
    last = next((t.content for t in reversed(episode.turns) if t.role == "assistant" and t.content), "")
    parts = [" → ".join(calls[:6]) + (" …" if len(calls) > 6 else "") if calls else "", " ".join(last.split())]
    text = " · ".join(p for p in parts if p)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def turns_view(episode: Episode) -> list[dict[str, Any]]:
    out = []
    for turn in episode.turns:
        row: dict[str, Any] = {"role": turn.role}
        if turn.content is not None:
            row["content"] = turn.content
        if turn.tool_calls:
            row["calls"] = [
                {"id": c.id, "name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False, indent=1)}
                for c in turn.tool_calls
            ]
        if turn.role == "tool":
            row["name"] = turn.name
            row["call_id"] = turn.tool_call_id
        if turn.weight is not None:
            row["weight"] = turn.weight
        out.append(row)
    return out


def episode_view(entry: LoggedEpisode, evidence: EpisodeEvidence) -> dict[str, Any]:
    """The page's record of one episode (without frames; the writer adds those)."""
    view: dict[str, Any] = {"id": entry.id, "status": entry.status}
    if entry.status == "dropped":
        view["drop"] = {"filter": entry.filter or "", "reason": entry.reason or "", "detail": entry.detail or ""}
    episode = entry.episode
    if episode is None:
        view.update(title="(no episode was made)", turns=[], tools=[], windows=[], apps=[], tokens=None, calls=0)
        return view
    if evidence.start is not None and evidence.end is not None:
        interval: list[float] | None = [evidence.start, evidence.end]
    else:
        interval = list(episode.source.interval) if episode.source.interval else None
    view.update(
        title=first_user_text(episode)[:200],
        gist=gist(episode),
        session=evidence.session or episode.source.session,
        interval=interval,
        index=evidence.interval,
        task=evidence.task,
        cut=evidence.cut,
        windows=evidence.windows,
        apps=evidence.apps,
        system=episode.system,
        tools=[{"name": t.name, "description": t.description} for t in episode.tools],
        turns=turns_view(episode),
        calls=episode.tool_call_count(),
        tokens=entry.tokens if entry.tokens is not None else episode_tokens(episode),
        source={k: v for k, v in episode.source.model_dump().items() if v is not None and k != "interval"},
    )
    return view


def session_bounds(session_path: Path) -> tuple[float | None, float | None, str | None]:
    """(started_at, ended_at, task) from session.json, when it can be read."""
    try:
        meta = orjson.loads((session_path / "session.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None, None, None
    if not isinstance(meta, dict):
        return None, None, None
    return (
        _num(meta.get("started_at")),
        _num(meta.get("ended_at")),
        meta.get("task") if isinstance(meta.get("task"), str) else None,
    )


def timelines(views: list[dict[str, Any]], session_paths: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Per session: its span and every interval in it (episode id, start, end, status), so the
    page can show where an episode's interval sits in its session."""
    out: dict[str, dict[str, Any]] = {}
    for view in views:
        session, interval = view.get("session"), view.get("interval")
        if not session or not interval:
            continue
        line = out.setdefault(session, {"start": None, "end": None, "task": None, "intervals": []})
        line["intervals"].append([interval[0], interval[1], view["id"], view["status"]])
    for session, line in out.items():
        started, ended, task = (
            session_bounds(session_paths[session]) if session in session_paths else (None, None, None)
        )
        starts = [i[0] for i in line["intervals"]]
        ends = [i[1] for i in line["intervals"]]
        line["start"] = min([started, *starts]) if started is not None else min(starts)
        line["end"] = max([ended, *ends]) if ended is not None else max(ends)
        # the label as the episodes carry it (redacted by the interval task), session.json's only if none does
        labels = [v["task"] for v in views if v.get("session") == session and isinstance(v.get("task"), str)]
        line["task"] = labels[0] if labels else task
        line["intervals"].sort()
    return out


def token_histogram(tokens: list[int], bins: int = 24) -> dict[str, Any]:
    """Equal-width bins over the kept episodes' token counts."""
    if not tokens:
        return {"edges": [], "counts": []}
    low, high = min(tokens), max(tokens)
    width = max(1, -(-(high - low + 1) // bins))
    count = -(-(high - low + 1) // width)
    counts = [0] * count
    for n in tokens:
        counts[(n - low) // width] += 1
    return {"edges": [low + i * width for i in range(count + 1)], "counts": counts}
