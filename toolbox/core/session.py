"""The recorded session on disk (docs/session-format.md): models for session.json and events.jsonl, and a
tolerant reader. The recorder writes this format; the pipeline reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from toolbox.core.io import BadLine, read_jsonl

SCHEMA_VERSION = 1


class Monitor(BaseModel):
    index: int
    left: int
    top: int
    width: int
    height: int
    scale: float = 1.0


class SessionMeta(BaseModel):
    """session.json. Unknown keys are kept (newer recorders may add some)."""

    model_config = ConfigDict(extra="allow")
    schema_version: int = SCHEMA_VERSION
    id: str
    started_at: float
    ended_at: float | None = None
    platform: str = "unknown"
    monitors: list[Monitor] = Field(default_factory=list)
    recorder: dict[str, Any] = Field(default_factory=dict)
    task: str | None = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow")
    t: float


class MouseMove(_Event):
    type: Literal["mouse_move"]
    x: int
    y: int


class Click(_Event):
    type: Literal["click"]
    x: int
    y: int
    button: str = "left"
    pressed: bool = True
    frame_before: str | None = None
    frame_after: str | None = None


class Scroll(_Event):
    type: Literal["scroll"]
    x: int
    y: int
    dx: int = 0
    dy: int = 0
    frame_before: str | None = None
    frame_after: str | None = None


class Key(_Event):
    type: Literal["key"]
    key: str
    char: str | None = None
    pressed: bool = True
    frame_before: str | None = None
    frame_after: str | None = None


class Window(_Event):
    type: Literal["window"]
    title: str = ""
    app: str = ""
    bounds: tuple[int, int, int, int] | None = None  # left, top, width, height


class Frame(_Event):
    type: Literal["frame"]
    file: str
    monitor: int = 0
    width: int
    height: int
    reason: str = ""
    hash: str = ""


class Clipboard(_Event):
    """The text of the X CLIPBOARD after a copy or cut (or when another program took it over):
    private like typed text."""

    type: Literal["clipboard"]
    op: Literal["copy", "cut", "change"] = "change"
    text: str


class Marker(_Event):
    type: Literal["marker"]
    kind: str
    text: str | None = None


Event = Annotated[MouseMove | Click | Scroll | Key | Window | Frame | Clipboard | Marker, Field(discriminator="type")]
EVENT_TYPES = {"mouse_move", "click", "scroll", "key", "window", "frame", "clipboard", "marker"}
_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass
class Session:
    path: Path
    meta: SessionMeta
    events: list[Event]
    problems: list[str] = field(default_factory=list)  # one line each: file, line, what

    @property
    def id(self) -> str:
        return self.meta.id

    def frame_path(self, frame: Frame) -> Path:
        return self.path / frame.file


class SessionError(Exception):
    """The session cannot be read at all (no or unreadable session.json)."""


def parse_event(data: Any) -> Event | None:
    """One decoded events.jsonl line as an event; None for an unknown event type."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("type") not in EVENT_TYPES:
        return None
    return _event_adapter.validate_python(data)


def read_session(path: str | Path) -> Session:
    """Read a session folder. Bad lines are skipped and named in `problems` (the caller reports
    them); a truncated last line (the recorder was killed mid-write) is expected and only noted."""
    folder = Path(path)
    meta_file = folder / "session.json"
    try:
        meta = SessionMeta.model_validate(orjson.loads(meta_file.read_bytes()))
    except FileNotFoundError as exc:
        raise SessionError(f"{meta_file}: missing") from exc
    except (orjson.JSONDecodeError, ValidationError, OSError) as exc:
        first = str(exc).splitlines()[0]
        raise SessionError(f"{meta_file}: unreadable ({first})") from exc

    events: list[Event] = []
    problems: list[str] = []
    events_file = folder / "events.jsonl"
    if not events_file.exists():
        problems.append(f"{events_file}: missing; session has no events")
        return Session(path=folder, meta=meta, events=events, problems=problems)
    for number, data in read_jsonl(events_file):
        if isinstance(data, BadLine):
            what = (
                "truncated last line skipped" if data.truncated else f"unreadable event skipped ({data.reason[:120]})"
            )
            problems.append(f"{events_file}:{number}: {what}")
            continue
        try:
            event = parse_event(data)
        except (ValueError, ValidationError) as exc:
            problems.append(f"{events_file}:{number}: unreadable event skipped ({str(exc).splitlines()[0][:120]})")
            continue
        if event is None:
            problems.append(f"{events_file}:{number}: unknown event type {data.get('type')!r} skipped")
            continue
        events.append(event)
    events.sort(key=lambda e: e.t)
    return Session(path=folder, meta=meta, events=events, problems=problems)


def find_sessions(root: str | Path) -> list[Path]:
    """Session folders under root (root itself if it is one), sorted by name (= start time)."""
    base = Path(root)
    if (base / "session.json").exists():
        return [base]
    return sorted(p.parent for p in base.glob("*/session.json"))
