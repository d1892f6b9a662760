"""Window titles as episodes show them: a local path in a title is shortened to its last part
(`/tmp/x/reply.txt - Mousepad` -> `reply.txt - Mousepad`), so calls and requests do not carry
where a person keeps their files."""

from __future__ import annotations

import re

from toolbox.activity.models import Interval

# an absolute or home path (or a file:// address): starts at a word boundary, runs to a space or bracket
_PATH = re.compile(r"(?<![\w.~/:\\])(?:file://)?(?:~/|/|[A-Za-z]:\\)[^\s()\[\]]*")


def short_title(title: str) -> str:
    """`title` with each local path replaced by its last part (a trailing separator ignored)."""

    def last_part(match: re.Match[str]) -> str:
        parts = [p for p in re.split(r"[/\\]", match.group(0)) if p and p not in ("~", "file:")]
        return parts[-1] if parts else match.group(0)

    return _PATH.sub(last_part, title)


def with_short_titles(interval: Interval) -> Interval:
    """A copy of `interval` whose window titles (its windows and its actions') are short."""
    actions = [a.model_copy(update={"title": short_title(a.title)}) if a.title else a for a in interval.actions]
    return interval.model_copy(update={"windows": [short_title(t) for t in interval.windows], "actions": actions})
