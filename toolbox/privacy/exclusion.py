"""Build-time exclusion (`exclude_windows` / `exclude_apps`): regular expressions, searched
case-insensitively like the recorder's `--exclude-window`. A matching window's frames are never
read (not even by OCR) and every interval that touched it is dropped whole."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from toolbox.activity.models import Interval
from toolbox.core.session import Frame, Session, Window


def compile_patterns(patterns: Sequence[str], key: str) -> list[re.Pattern[str]]:
    """Each pattern compiled (IGNORECASE); a bad one is a ValueError naming `key[i]`."""
    out = []
    for i, pattern in enumerate(patterns):
        try:
            out.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"{key}[{i}] {pattern!r} is not a regular expression ({exc})") from None
    return out


@dataclasses.dataclass(frozen=True)
class WindowExclusion:
    windows: tuple[re.Pattern[str], ...] = ()
    apps: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_patterns(cls, windows: Sequence[str] = (), apps: Sequence[str] = ()) -> WindowExclusion:
        return cls(tuple(compile_patterns(windows, "exclude_windows")), tuple(compile_patterns(apps, "exclude_apps")))

    def __bool__(self) -> bool:
        return bool(self.windows or self.apps)

    def matches(self, title: str | None, app: str | None) -> bool:
        return bool(
            (title and any(p.search(title) for p in self.windows)) or (app and any(p.search(app) for p in self.apps))
        )

    def reason(self, interval: Interval) -> str | None:
        """Why `interval` is dropped ("excluded window" / "excluded app"), or None. Any window
        the interval touched counts: the whole interval goes, not just the matching part."""
        titles = list(interval.windows) + [a.title for a in interval.actions if a.title]
        if any(p.search(t) for t in titles if t for p in self.windows):
            return "excluded window"
        if any(p.search(a) for a in interval.apps if a for p in self.apps):
            return "excluded app"
        return None

    def seen(self, session: Session) -> bool:
        """Whether an excluded window had focus at some point of `session` (it may still show
        beside the focused one afterwards)."""
        return bool(self) and any(isinstance(e, Window) and self.matches(e.title, e.app) for e in session.events)

    def without_frames(self, session: Session) -> tuple[Session, int]:
        """A copy of `session` without the frames taken while an excluded window had focus
        (so OCR never reads them and no neighbouring interval shows them), and how many went."""
        if not self:
            return session, 0
        kept = []
        excluded = False
        dropped = 0
        for event in session.events:
            if isinstance(event, Window):
                excluded = self.matches(event.title, event.app)
            elif isinstance(event, Frame) and excluded:
                dropped += 1
                continue
            kept.append(event)
        return (dataclasses.replace(session, events=kept), dropped) if dropped else (session, 0)
