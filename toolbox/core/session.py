"""The recorded session on disk (docs/session-format.md): models for session.json and events.jsonl, and a
tolerant reader. The recorder writes this format; the pipeline reads it."""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import orjson
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from toolbox.core.io import BadLine, read_jsonl

SCHEMA_VERSION = 1

# What a build reads of a session, at most (checked before reading; see `session_file` and `check_frame_file`).
MAX_META_BYTES = 2**20  # session.json
MAX_EVENT_LINE_BYTES = 2**20  # one line of events.jsonl
MAX_FRAME_BYTES = 64 * 2**20  # one frame file (a 4K colour PNG is ~10 MB)
MAX_FRAME_PIXELS = 64_000_000  # one frame (8K x 8K); more is a decompression bomb, not a screen
MAX_NAME_BYTES = 255  # one part of a path (the file system's limit)
TIME_SLACK = 3600.0  # seconds an event may lie outside the session's recorded span (clock steps)
OPEN_SESSION_SPAN = 30 * 86400.0  # a session without ended_at (a crashed recorder) spans at most this


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
    started_at: float = Field(allow_inf_nan=False)
    ended_at: float | None = Field(default=None, allow_inf_nan=False)
    platform: str = "unknown"
    monitors: list[Monitor] = Field(default_factory=list)
    recorder: dict[str, Any] = Field(default_factory=dict)
    task: str | None = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow")
    t: float = Field(allow_inf_nan=False)


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
        """The frame's file, once it is known to be safe to read: inside the session folder and
        within the size and pixel limits. Raises FrameFileError (one line) otherwise."""
        return check_frame_file(session_file(self.path, frame.file), frame.file)

    def time_span(self) -> tuple[float, float]:
        """The times an event of this session may have: its recorded span, with some slack."""
        start = self.meta.started_at
        end = self.meta.ended_at if self.meta.ended_at is not None else start + OPEN_SESSION_SPAN
        return start - TIME_SLACK, max(start, end) + TIME_SLACK


class SessionError(Exception):
    """The session cannot be read at all (no or unreadable session.json)."""


class FrameFileError(ValueError):
    """A file named by a session that the build must not read: missing, outside the session
    folder, or too big. The message is one line naming the file."""


class FrameMissing(FrameFileError):
    """The file named is not there."""


def _shown(name: str) -> str:
    return name if len(name) <= 80 else f"{name[:60]}... ({len(name)} characters)"


def session_file(folder: Path, name: str, what: str = "frame file") -> Path:
    """`name`, a path relative to the session folder as events.jsonl gives it, joined to the
    folder; refused (FrameFileError) when it is absolute, climbs with `..`, has a part longer
    than the file system allows, or resolves (through a link) outside the folder."""
    shown = _shown(name)
    relative = PurePosixPath(name)
    if not name or "\x00" in name:
        raise FrameFileError(f"{what} {shown!r} is not a file name")
    if relative.is_absolute():
        raise FrameFileError(f"{what} {shown} is outside the session (an absolute path)")
    if ".." in relative.parts:
        raise FrameFileError(f"{what} {shown} is outside the session (it climbs with '..')")
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in relative.parts):
        raise FrameFileError(f"{what} {shown}: name too long (a part over {MAX_NAME_BYTES} bytes)")
    base = folder.resolve()
    path = base / relative
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise FrameFileError(f"{what} {shown} cannot be resolved ({exc})") from None
    if not real.is_relative_to(base):
        raise FrameFileError(f"{what} {shown} is outside the session (a link to {_shown(str(real))})")
    return path


def check_frame_file(path: Path, name: str | None = None) -> Path:
    """`path` if it is a regular file of at most MAX_FRAME_BYTES whose image header (when it
    has one) says at most MAX_FRAME_PIXELS; only the header is read. A file that is no image
    passes: the decoder reports it."""
    shown = _shown(name if name is not None else str(path))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FrameMissing(f"frame file {shown} is missing") from None
    except (OSError, ValueError) as exc:
        raise FrameFileError(f"frame file {shown} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise FrameFileError(f"frame file {shown} is not a file")
    if info.st_size > MAX_FRAME_BYTES:
        raise FrameFileError(
            f"frame file {shown} is too large ({info.st_size / 2**20:,.0f} MB; at most {MAX_FRAME_BYTES // 2**20} MB)"
        )
    size = _webp_size(path)
    if size is not None:
        width, height = size
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    width, height = image.size
        except Image.DecompressionBombError:
            width, height = -1, -1
        except Exception:  # noqa: BLE001 - no image header PIL knows: the decoder says so later
            return path
    if width < 0 or width * height > MAX_FRAME_PIXELS:
        size = f"{width}x{height}" if width >= 0 else "over 2x Pillow's limit"
        raise FrameFileError(
            f"frame file {shown} has too many pixels ({size}; at most {MAX_FRAME_PIXELS / 1e6:.0f} megapixels)"
        )
    return path


def _webp_size(path: Path) -> tuple[int, int] | None:
    """The width and height a WebP file's header gives (the recorder's frames), from its first 30
    bytes; None for another file. (Pillow opens a WebP through its animation decoder: 20x the cost
    of reading the header, for each of an hour's 1,400 frames.)"""
    try:
        with open(path, "rb") as handle:
            head = handle.read(30)
    except OSError:
        return None
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # lossy: 14-bit width and height
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:  # lossless: 14 bits each, minus one
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: the canvas, 24 bits each, minus one
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _field_error(exc: ValidationError, skip: int = 0) -> str:
    """`field x: Input should be a valid integer (got 'abc')`: the field, not pydantic's model name."""
    err = exc.errors()[0]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"][skip:]).lstrip(".")
    got = f" (got {_shown(repr(err['input']))})" if err["type"] != "missing" else ""
    return f"field {path or '?'}: {err['msg']}{got}"


def _event_error(exc: ValidationError) -> str:
    """`click event, field x: ...`: the event's type (the union's tag) and the field."""
    kind = (exc.errors()[0]["loc"] or ("?",))[0]
    return f"{kind} event, {_field_error(exc, skip=1)}"


def parse_event(data: Any) -> Event | None:
    """One decoded events.jsonl line as an event; None for an unknown event type. A bad field
    is a ValueError naming the field."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if not isinstance(data.get("type"), str) or data["type"] not in EVENT_TYPES:
        return None
    try:
        return _event_adapter.validate_python(data)
    except ValidationError as exc:
        raise ValueError(_event_error(exc)) from None


def _read_meta(folder: Path) -> SessionMeta:
    meta_file = folder / "session.json"
    try:
        session_file(folder, "session.json", "the file")
        with open(meta_file, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_META_BYTES:
                raise SessionError(f"{meta_file}: too large (over {MAX_META_BYTES // 2**20} MB)")
            return SessionMeta.model_validate(orjson.loads(handle.read()))
    except FileNotFoundError as exc:
        raise SessionError(f"{meta_file}: missing") from exc
    except ValidationError as exc:
        raise SessionError(f"{meta_file}: unreadable ({_field_error(exc)})") from exc
    except (orjson.JSONDecodeError, OSError, FrameFileError) as exc:
        first = str(exc).splitlines()[0]
        raise SessionError(f"{meta_file}: unreadable ({first})") from exc


def read_session(path: str | Path) -> Session:
    """Read a session folder. Bad lines are skipped and named in `problems` (the caller reports
    them); a truncated last line (the recorder was killed mid-write) is expected and only noted.
    An event whose time lies far outside the session's span (or is not a number) is skipped."""
    folder = Path(path)
    meta = _read_meta(folder)
    session = Session(path=folder, meta=meta, events=[])
    events_file = folder / "events.jsonl"
    if not os.path.lexists(events_file):
        session.problems.append(f"{events_file}: missing; session has no events")
        return session
    try:
        session_file(folder, "events.jsonl", "the file")
        for number, data in read_jsonl(events_file, max_line=MAX_EVENT_LINE_BYTES):
            problem = _add_event(session, data)
            if problem:
                session.problems.append(f"{events_file}:{number}: {problem}")
    except FrameFileError as exc:
        raise SessionError(f"{folder}: {exc}") from exc
    except OSError as exc:
        raise SessionError(f"{events_file}: cannot be read ({exc.strerror or exc})") from exc
    session.events.sort(key=lambda e: e.t)
    return session


def _add_event(session: Session, data: Any) -> str | None:
    """Parse one line into `session.events`; what is wrong with it otherwise."""
    if isinstance(data, BadLine):
        return "truncated last line skipped" if data.truncated else f"unreadable event skipped ({data.reason[:120]})"
    try:
        event = parse_event(data)
    except ValueError as exc:
        return f"unreadable event skipped ({str(exc)[:160]})"
    if event is None:
        return f"unknown event type {_shown(repr(data.get('type')))} skipped"
    low, high = session.time_span()
    if not low <= event.t <= high:
        return f"time t={event.t!r} is outside the session (started {session.meta.started_at!r}); event skipped"
    session.events.append(event)
    return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def find_sessions(root: str | Path, skipped: Callable[[str, str], None] | None = None) -> list[Path]:
    """Session folders under root (root itself if it is one), sorted by name (= start time).
    Other folders are named to `skipped(kind, message)`: a folder with no session.json ("not
    sessions") or one holding sessions a level further down ("nested sessions"); not read."""
    base = Path(root)
    if _is_file(base / "session.json"):
        return [base]
    try:
        folders = sorted(p for p in base.iterdir() if p.is_dir())
    except OSError as exc:
        if skipped is not None:
            skipped("not sessions", f"{base}: cannot list the folder ({exc.strerror or exc})")
        return []
    found = []
    for folder in folders:
        if _is_file(folder / "session.json"):
            found.append(folder)
        elif skipped is not None and not folder.name.startswith("."):
            nested = sorted(p.parent.name for p in folder.glob("*/session.json"))
            if nested:
                skipped(
                    "nested sessions",
                    f"{folder}: holds {len(nested)} session(s) a level further down ({nested[0]}, ...); "
                    f"not read: name {folder} as a dataset path to read them",
                )
            else:
                skipped("not sessions", f"{folder}: no session.json; not a session, skipped")
    return found
