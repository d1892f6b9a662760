"""Write the report page: one HTML file with the CSS, the script and the data inlined (no CDN,
no network), plus the frame thumbnails beside it (see frame_images.py)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from toolbox.core.io import write_atomic
from toolbox.core.models import EpisodeEvidence, LoggedEpisode
from toolbox.report.collect import FrameFile, episode_evidence, episode_frames, episode_view, timelines, token_histogram
from toolbox.report.frame_images import FrameMode, FrameStore

MAX_PROBLEMS = 200


@dataclass
class ReportResult:
    path: Path
    episodes: int = 0
    kept: int = 0
    dropped: int = 0
    frames: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


def _asset(name: str) -> str:
    return resources.files("toolbox.report").joinpath(name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: no `<` can close the element."""
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode("utf-8").replace("<", "\\u003c")


def write_report(
    report: Path,
    entries: Iterable[LoggedEpisode],
    stats: dict[str, Any],
    *,
    output: Path | None = None,
    frames: FrameMode = "link",
    title: str | None = None,
    problems: Iterable[str] = (),
) -> ReportResult:
    """Render every entry (kept or dropped episode) and the build stats into `report`."""
    report = report.resolve()
    result = ReportResult(report, problems=list(problems))
    store = FrameStore(report, frames)
    views: list[dict[str, Any]] = []
    episode_frame_files: list[list[FrameFile]] = []
    session_paths: dict[str, Path] = {}
    for entry in entries:
        evidence = episode_evidence(entry.episode, result.problems) if entry.episode is not None else EpisodeEvidence()
        view = episode_view(entry, evidence)
        views.append(view)
        episode_frame_files.append(episode_frames(evidence, result.problems))
        if view.get("session") and evidence.session_path:
            session_paths.setdefault(view["session"], Path(evidence.session_path))
    store.prepare([f.source for files in episode_frame_files for f in files])
    for view, files in zip(views, episode_frame_files):
        view["frames"] = [_frame_view(store, f) for f in files]
        result.frames += len(files)
    result.problems.extend(store.problems)
    result.episodes = len(views)
    result.kept = sum(v["status"] == "kept" for v in views)
    result.dropped = result.episodes - result.kept
    sessions = timelines(views, session_paths)
    for view in views:  # an interval's task is its session's label unless the task said otherwise
        if not view.get("task") and view.get("session") in sessions:
            view["task"] = sessions[view["session"]]["task"]
    kept_tokens = [v["tokens"] for v in views if v["status"] == "kept" and isinstance(v.get("tokens"), int)]
    data = {
        "title": title or (f"datamakr build: {output.name}" if output else "datamakr build"),
        "output": str(output) if output else None,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "frames_mode": frames,
        "summary": stats,
        "histogram": token_histogram(kept_tokens),
        "episodes": views,
        "sessions": sessions,
        "problems": result.problems[:MAX_PROBLEMS],
    }
    page = (
        _asset("template.html")
        .replace("/*REPORT_CSS*/", _asset("report.css"))
        .replace("/*REPORT_JS*/", _asset("report.js"))
        .replace("__REPORT_TITLE__", _html_text(data["title"]))
        .replace("__REPORT_DATA__", _script_json(data))
    )
    encoded = page.encode("utf-8")
    write_atomic(report, encoded)
    result.bytes = len(encoded)
    return result


def _frame_view(store: FrameStore, frame: FrameFile) -> dict[str, Any]:
    image = store.get(frame.source)
    view: dict[str, Any] = {
        "t": frame.t,
        "reason": frame.reason,
        "marks": frame.marks,
        "ocr": frame.ocr,
        "name": frame.source.name,
    }
    if image is None:
        view.update(missing=True, w=frame.width, h=frame.height)
    else:
        view.update(thumb=image.thumb, full=image.full, w=image.width, h=image.height)
    return view


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
