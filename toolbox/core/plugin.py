"""What every plugin shares: validated options and the build context."""

from __future__ import annotations

import copy
import hashlib
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

log = logging.getLogger("datamakr")

T = TypeVar("T")


class Options(BaseModel):
    """A plugin's options, validated from its YAML entry. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class BuildStats:
    """Counts for the build summary; every skip and drop lands here with a reason."""

    read: Counter[str] = field(default_factory=Counter)  # records read, per dataset
    episodes: int = 0  # episodes made by tasks (and passed through)
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (filter, reason)
    skipped: Counter[str] = field(default_factory=Counter)  # unreadable input, per kind
    problems: list[str] = field(default_factory=list)  # one line each, first few kept
    written: int = 0
    tokens: int = 0
    dropped_episodes: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # (episode id, filter, reason, detail)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. LLM cost, requests

    MAX_PROBLEMS: ClassVar[int] = 200

    def drop(self, filter_name: str, reason: str, episode_id: str, detail: str = "") -> None:
        self.dropped[(filter_name, reason)] += 1
        self.dropped_episodes.append((episode_id, filter_name, reason, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": dict(self.read),
            "episodes": self.episodes,
            "dropped": [{"filter": f, "reason": r, "count": n} for (f, r), n in sorted(self.dropped.items())],
            "skipped": dict(self.skipped),
            "problems": self.problems,
            "written": self.written,
            "tokens": self.tokens,
            **self.extra,
        }

    def problem(self, kind: str, message: str) -> None:
        """Count an unreadable part of the input (skipped, not fatal) and keep its message."""
        self.skipped[kind] += 1
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append(message)
        log.warning(message)

    def merge(self, part: BuildStats) -> None:
        """Add the counts of a part of the build (a worker's shard) to these, as if counted here."""
        self.read.update(part.read)
        self.episodes += part.episodes
        self.dropped.update(part.dropped)
        self.skipped.update(part.skipped)
        self.problems.extend(part.problems[: max(0, self.MAX_PROBLEMS - len(self.problems))])
        self.written += part.written
        self.tokens += part.tokens
        self.dropped_episodes.extend(part.dropped_episodes)
        merge_extra(self.extra, part.extra)

    def state(self) -> dict[str, Any]:
        """Every field as JSON-ready values (`from_state` reads them back): a shard's counts on disk."""
        return {
            "read": dict(self.read),
            "episodes": self.episodes,
            "dropped": [[f, r, n] for (f, r), n in self.dropped.items()],
            "skipped": dict(self.skipped),
            "problems": self.problems,
            "written": self.written,
            "tokens": self.tokens,
            "dropped_episodes": [list(d) for d in self.dropped_episodes],
            "extra": self.extra,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BuildStats:
        return cls(
            read=Counter(state["read"]),
            episodes=state["episodes"],
            dropped=Counter({(f, r): n for f, r, n in state["dropped"]}),
            skipped=Counter(state["skipped"]),
            problems=list(state["problems"]),
            written=state["written"],
            tokens=state["tokens"],
            dropped_episodes=[tuple(d) for d in state["dropped_episodes"]],  # type: ignore[misc]
            extra=state["extra"],
        )


def merge_extra(into: dict[str, Any], part: dict[str, Any]) -> None:
    """`BuildStats.extra` of a part into the whole: counts add up (also inside mappings such as
    the OCR counters), flags are true if any part set them, other values (a name) keep the first."""
    for key, value in part.items():
        have = into.get(key)
        if key not in into:
            into[key] = copy.deepcopy(value)
        elif isinstance(have, bool) or isinstance(value, bool):
            into[key] = bool(have) or bool(value)
        elif isinstance(have, (int, float)) and isinstance(value, (int, float)):
            into[key] = have + value
        elif isinstance(have, dict) and isinstance(value, dict):
            merge_extra(have, value)


class WorkerState:
    """Base of a per-build object (`ctx.shared(kind, ...)`) that plugins fill while they work and
    that must add up over the workers of a build (e.g. the LLM metrics). After each shard the
    executor sends the worker's `shard_delta()` (JSON-ready) to the driver, whose object of the
    same kind (made as `kind(ctx)` if the driver has none) takes it with `merge_shard`."""

    def shard_delta(self) -> dict[str, Any]:
        return {}

    def merge_shard(self, delta: dict[str, Any]) -> None:
        """Take a worker's `shard_delta()`."""

    def shard_reusable(self) -> bool:
        """False if the shard's result must not be kept for a restarted build (it is still
        used in this one): e.g. an LLM request failed, and a rerun may do better."""
        return True


# Classes of which a build has one instance whatever the number of workers (the LLM budget and
# requests in flight): a multi-process executor serves that instance (a manager process, a Ray
# actor) and puts a proxy with the same methods into every worker's context (`ctx.provide`).
SHARED_ACROSS_WORKERS: list[type] = []


def shared_across_workers(cls: type[T]) -> type[T]:
    """Class decorator: one instance per build across workers (see SHARED_ACROSS_WORKERS). Its
    constructor takes no arguments; its methods take and return plain values."""
    if cls not in SHARED_ACROSS_WORKERS:
        SHARED_ACROSS_WORKERS.append(cls)
    return cls


@dataclass
class BuildContext:
    seed: int = 0
    base_dir: Path = field(default_factory=Path.cwd)  # where the YAML lives; relative paths start here
    cache_dir: Path = field(default_factory=lambda: Path(".cache/datamakr"))
    stats: BuildStats = field(default_factory=BuildStats)
    limit: int | None = None
    use_vision: bool = False  # LLM transcribers also send frames as images
    cpus: int | None = None  # CPUs this process may use (a worker's share); None: every core of the machine
    _shared: dict[type, Any] = field(default_factory=dict, init=False, repr=False)
    _finish_callbacks: list[Callable[[Path], None]] = field(default_factory=list, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)  # `make` may call on_finish

    def shared(self, kind: type[T], make: Callable[[], T]) -> T:
        """The one `kind` object of this build, made by `make` on first ask: what the plugins
        of a build share (e.g. the LLM budget and metrics)."""
        with self._lock:
            if kind not in self._shared:
                self._shared[kind] = make()
            return self._shared[kind]  # type: ignore[no-any-return]

    def provide(self, kind: type, obj: Any) -> None:
        """Make `obj` this build's `kind` object, before any plugin asks for it (an executor
        gives workers a proxy to the build's one instance, see `shared_across_workers`)."""
        with self._lock:
            self._shared[kind] = obj

    def worker_states(self) -> dict[type, WorkerState]:
        """The shared objects whose work adds up over workers (`WorkerState`)."""
        with self._lock:
            return {kind: obj for kind, obj in self._shared.items() if isinstance(obj, WorkerState)}

    def on_finish(self, callback: Callable[[Path], None]) -> None:
        """Call `callback(output)` once the build's output is written (e.g. the LLM metrics beside it)."""
        with self._lock:
            self._finish_callbacks.append(callback)

    def finish(self, output: Path) -> None:
        """Run the finish callbacks, in the order they were registered."""
        for callback in list(self._finish_callbacks):
            callback(output)

    def rng(self, *key: object) -> random.Random:
        """A random generator seeded from the build seed and a key (e.g. the episode id), so the
        output does not depend on processing order."""
        digest = hashlib.sha256(repr((self.seed, *key)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def path(self, value: str | Path) -> Path:
        p = Path(value).expanduser()
        return (p if p.is_absolute() else self.base_dir / p).resolve()


class Plugin:
    """Base of every plugin kind: `Options` is validated from YAML; `ctx` is the build context."""

    Options: ClassVar[type[Options]] = Options
    plugin_name: ClassVar[str] = ""

    def __init__(self, options: Options | None = None, ctx: BuildContext | None = None) -> None:
        self.options = options if options is not None else self.Options()
        self.ctx = ctx if ctx is not None else BuildContext()
