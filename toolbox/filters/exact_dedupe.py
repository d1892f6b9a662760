from __future__ import annotations

import hashlib

from toolbox.core.filter import Drop, Filter, Verdict
from toolbox.core.models import Episode
from toolbox.core.plugin import Options
from toolbox.core.registry import register_filter


def normalized(text: str) -> str:
    return " ".join(text.casefold().split())  # str.split's whitespace is the regex \s: same text, 3x faster


@register_filter("exact_dedupe")
class ExactDedupe(Filter):
    """Drop episodes whose normalized text (case and whitespace folded) was seen before."""

    whole_stream = True  # remembers every episode before

    class Options(Options):
        include_system: bool = False

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.seen: dict[bytes, str] = {}  # text digest -> id of the episode kept with that text

    def check(self, episode: Episode) -> Verdict:
        """Decided on the text alone: the same session read twice gives episodes with the same id
        and the same text, and the second is a duplicate like any other."""
        text = episode.text() + ("\n" + (episode.system or "") if self.options.include_system else "")
        key = hashlib.blake2b(normalized(text).encode(), digest_size=16).digest()
        first = self.seen.get(key)
        if first is not None:
            return Drop("exact duplicate", f"same text as {first}")
        self.seen[key] = episode.id
        return episode
