"""What every plugin shares: validated options and the build context."""

from __future__ import annotations

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


@dataclass
class BuildContext:
    seed: int = 0
    base_dir: Path = field(default_factory=Path.cwd)  # where the YAML lives; relative paths start here
    cache_dir: Path = field(default_factory=lambda: Path(".cache/datamakr"))
    stats: BuildStats = field(default_factory=BuildStats)
    limit: int | None = None
    use_vision: bool = False  # LLM transcribers also send frames as images
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
