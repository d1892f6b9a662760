"""Gather what the report shows: the build's stats and every episode (kept or dropped), turned
into the plain JSON the page renders.

Two inputs are possible:
- the episodes log `<output>.episodes.jsonl`, written by the pipeline when a report is asked for
  (full episodes with their metadata: frames, actions, OCR; dropped ones with the reason);
- otherwise the output file itself, read back through its format (lossy: no metadata, no
  dropped episodes), so a report can still be made of any glaive/sharegpt/openai file.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import orjson
from pydantic import BaseModel, ValidationError

from toolbox.core.models import Episode
from toolbox.core.plugin import BuildContext
from toolbox.core.tokens import episode_tokens

log = logging.getLogger("datamakr.report")


class LoggedEpisode(BaseModel):
    """One line of `<output>.episodes.jsonl` (see toolbox/core/pipeline.py `_log_episode`)."""

    status: Literal["kept", "dropped"]
    id: str
    filter: str | None = None
    reason: str | None = None
    detail: str | None = None
    tokens: int | None = None
    episode: Episode | None = None


@dataclass
class FrameFile:
    """A frame the page shows: where the image is, and what to draw on it."""

    source: Path  # the image file
    width: int
    height: int
    t: float | None = None
    reason: str = ""
    marks: list[dict[str, Any]] = field(default_factory=list)  # clicks etc., in frame pixels
    ocr: list[list[Any]] = field(default_factory=list)  # [x0, y0, x1, y1, text, conf]


def read_episodes_log(path: Path, problems: list[str]) -> Iterator[LoggedEpisode]:
    """Rows of an episodes log; a bad line is reported (file:line) and skipped."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield LoggedEpisode.model_validate(orjson.loads(raw))
            except (orjson.JSONDecodeError, ValidationError) as exc:
                first = str(exc).splitlines()[0][:160]
                problems.append(f"{path}:{number}: not an episode log row ({first}); skipped")


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


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _frame_key(value: Any) -> str | None:
    """A frame named by an action: a path string, or a FrameRef-like dict with `path`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return value["path"]
    return None


@dataclass
class FrameIndex:
    """The frames of one episode, looked up by any spelling of their path."""

    session_path: Path | None
    frames: list[FrameFile] = field(default_factory=list)
    refs: list[dict[str, Any]] = field(default_factory=list)  # the metadata dicts, same order
    by_path: dict[str, int] = field(default_factory=dict)

    def resolve(self, path: str) -> Path:
        p = Path(path)
        if p.is_absolute() or self.session_path is None:
            return p
        return self.session_path / p

    def add(self, ref: dict[str, Any]) -> None:
        path = ref.get("path") or ref.get("file")
        if not isinstance(path, str):
            return
        source = self.resolve(path)
        key = str(source)
        if key in self.by_path:
            return
        self.by_path[key] = len(self.frames)
        self.by_path[path] = len(self.frames)
        self.frames.append(FrameFile(
            source=source,
            width=int(ref.get("width") or 0),
            height=int(ref.get("height") or 0),
            t=_num(ref.get("t")),
            reason=str(ref.get("reason") or ""),
        ))
        self.refs.append(ref)

    def find(self, path: str | None) -> int | None:
        if path is None:
            return None
        if path in self.by_path:
            return self.by_path[path]
        return self.by_path.get(str(self.resolve(path)))

    def at_time(self, t: float | None) -> int | None:
        """The last frame taken at or before `t` (the screen the action happened on)."""
        if not self.frames:
            return None
        if t is None:
            return 0
        best = None
        for i, frame in enumerate(self.frames):
            if frame.t is not None and frame.t <= t and (best is None or (self.frames[best].t or 0) <= frame.t):
                best = i
        return best if best is not None else 0

    def to_frame(self, index: int, x: float, y: float) -> tuple[float, float]:
        ref = self.refs[index]
        scale = _num(ref.get("scale")) or 1.0
        return (x - (_num(ref.get("monitor_left")) or 0)) * scale, (y - (_num(ref.get("monitor_top")) or 0)) * scale


def episode_frames(episode: Episode) -> list[FrameFile]:
    """The frames of an episode's interval with its clicks and OCR boxes, from its metadata."""
    meta = episode.metadata
    session_path = meta.get("session_path")
    index = FrameIndex(Path(session_path) if isinstance(session_path, str) else None)
    for ref in meta.get("frames") or []:
        if isinstance(ref, dict):
            index.add(ref)
    for action in meta.get("actions") or []:  # frames named only by actions
        for key in ("frame_before", "frame_after"):
            if isinstance(_as_dict(action).get(key), dict):
                index.add(action[key])
    if index.frames and index.frames[0].t is not None:
        order = sorted(range(len(index.frames)), key=lambda i: index.frames[i].t or 0.0)
        index.frames = [index.frames[i] for i in order]
        index.refs = [index.refs[i] for i in order]
        index.by_path = {}
        for i, (frame, ref) in enumerate(zip(index.frames, index.refs)):
            index.by_path[str(frame.source)] = i
            index.by_path[ref.get("path") or ref.get("file")] = i
    _add_marks(index, meta.get("actions") or [])
    _add_ocr(index, meta.get("ocr"), meta.get("main_frame") or meta.get("ocr_frame"))
    return index.frames


def _add_marks(index: FrameIndex, actions: list[Any]) -> None:
    for number, action in enumerate(actions, start=1):
        action = _as_dict(action)
        x, y = _num(action.get("x")), _num(action.get("y"))
        if x is None or y is None:
            continue
        where = index.find(_frame_key(action.get("frame_before")))
        if where is None:
            where = index.at_time(_num(action.get("t")))
        if where is None:
            continue
        frame_xy = _num(action.get("frame_x")), _num(action.get("frame_y"))
        if frame_xy[0] is not None and frame_xy[1] is not None and where == index.find(_frame_key(action.get("frame_before"))):
            fx, fy = frame_xy  # the task mapped the point onto its frame (monitor offset, scale)
        else:
            fx, fy = index.to_frame(where, x, y)
        mark: dict[str, Any] = {"n": number, "kind": str(action.get("kind") or "click"), "x": round(fx, 1), "y": round(fy, 1)}
        x2, y2 = _num(action.get("x2")), _num(action.get("y2"))
        if x2 is not None and y2 is not None:
            mark["x2"], mark["y2"] = round(fx + x2 - x, 1), round(fy + y2 - y, 1)  # the drag's end, same offset
        if action.get("target"):
            mark["target"] = str(action["target"])
        index.frames[where].marks.append(mark)


def _ocr_rows(words: Any) -> list[list[Any]]:
    rows = []
    for word in words if isinstance(words, list) else []:
        word = _as_dict(word)
        box = word.get("box")
        if isinstance(box, (list, tuple)) and len(box) == 4 and all(_num(v) is not None for v in box):
            rows.append([*(round(float(v), 1) for v in box), str(word.get("text", "")), round(_num(word.get("conf")) or 0.0, 3)])
    return rows


def _add_ocr(index: FrameIndex, ocr: Any, ocr_frame: Any) -> None:
    """OCR words as stored by the interval task: a list of words (of the main frame), or
    {"frame": path, "words": [...]}, or a list of such, or {frame path: words}."""
    if not index.frames or not ocr:
        return
    groups: list[tuple[str | None, Any]] = []
    if isinstance(ocr, list) and ocr and all(isinstance(w, dict) and "words" in w for w in ocr):
        groups = [(_frame_key(g.get("frame")), g["words"]) for g in ocr]
    elif isinstance(ocr, list):
        groups = [(_frame_key(ocr_frame), ocr)]
    elif isinstance(ocr, dict) and "words" in ocr:
        groups = [(_frame_key(ocr.get("frame")) or _frame_key(ocr_frame), ocr["words"])]
    elif isinstance(ocr, dict):
        groups = [(key, words) for key, words in ocr.items()]
    for frame_path, words in groups:
        where = index.find(frame_path)
        if where is None:
            where = _main_frame(index)
        index.frames[where].ocr.extend(_ocr_rows(words))


def _main_frame(index: FrameIndex) -> int:
    """Without a named frame, OCR belongs to the interval's main frame: the last `before` frame
    (what the screen showed when the person acted), else the first."""
    befores = [i for i, f in enumerate(index.frames) if f.reason == "before"]
    return befores[0] if befores else 0


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
            row["calls"] = [{"id": c.id, "name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False, indent=1)} for c in turn.tool_calls]
        if turn.role == "tool":
            row["name"] = turn.name
            row["call_id"] = turn.tool_call_id
        if turn.weight is not None:
            row["weight"] = turn.weight
        out.append(row)
    return out


def episode_view(entry: LoggedEpisode, episode: Episode | None) -> dict[str, Any]:
    """The page's record of one episode (without frames; the writer adds those)."""
    view: dict[str, Any] = {"id": entry.id, "status": entry.status}
    if entry.status == "dropped":
        view["drop"] = {"filter": entry.filter or "", "reason": entry.reason or "", "detail": entry.detail or ""}
    if episode is None:
        view.update(title="(no episode was made)", turns=[], tools=[], windows=[], apps=[], tokens=None, calls=0)
        return view
    meta = episode.metadata
    interval = meta.get("start"), meta.get("end")
    if not all(_num(v) is not None for v in interval) and episode.source.interval:
        interval = episode.source.interval
    windows = [str(w) for w in meta.get("windows") or [] if w]
    view.update(
        title=first_user_text(episode)[:200],
        gist=gist(episode),
        session=meta.get("session") or episode.source.session,
        interval=[float(v) for v in interval] if all(_num(v) is not None for v in interval) else None,
        index=meta.get("interval") if isinstance(meta.get("interval"), int) else None,
        task=meta.get("task") if isinstance(meta.get("task"), str) else None,
        cut=meta.get("cut") if isinstance(meta.get("cut"), str) else None,
        windows=windows,
        apps=[str(a) for a in meta.get("apps") or [] if a],
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
    return _num(meta.get("started_at")), _num(meta.get("ended_at")), meta.get("task") if isinstance(meta.get("task"), str) else None


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
        started, ended, task = session_bounds(session_paths[session]) if session in session_paths else (None, None, None)
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
