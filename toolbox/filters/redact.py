"""The `redact` filter: secrets and personal data in every text of an episode become typed
placeholders, consistent within the episode (one `RedactionMap` each)."""
from __future__ import annotations

from collections import Counter

from toolbox.core.filter import Filter, Verdict
from toolbox.core.models import Episode
from toolbox.core.registry import register_filter
from toolbox.privacy import RedactionMap, RedactionOptions, Redactor


@register_filter("redact")
class Redact(Filter):
    """Replace API keys, tokens, passwords, cards, IBANs, e-mails and phone numbers with placeholders like [EMAIL_1]."""

    Options = RedactionOptions
    options: RedactionOptions

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.redactor = Redactor(self.options)

    def check(self, episode: Episode) -> Verdict:
        return redact_episode(episode, self.redactor, self.ctx.stats.extra.setdefault("redactions", {}))


def redact_episode(episode: Episode, redactor: Redactor, totals: dict[str, int] | None = None, mapping: RedactionMap | None = None) -> Episode:
    """A copy of `episode` with its system prompt, turn texts, tool-call arguments (recursively),
    tool results and metadata strings redacted with one mapping. Counts per kind go to
    `metadata["redactions"]` (and are added to `totals`)."""
    mapping = mapping if mapping is not None else RedactionMap()
    before = Counter(mapping.counts)  # a shared (session) map already holds other episodes' counts
    data = episode.model_dump()
    red = redactor.redact_data
    if data["system"]:
        data["system"] = red(data["system"], mapping)
    for turn in data["turns"]:
        if turn["content"]:
            turn["content"] = red(turn["content"], mapping)
        for call in turn["tool_calls"]:
            call["arguments"] = red(call["arguments"], mapping)
    for tool in data["tools"]:
        tool["description"] = red(tool["description"], mapping)
    metadata = red({k: v for k, v in data["metadata"].items() if k != "redactions"}, mapping)
    made = mapping.counts - before
    counts: Counter[str] = Counter(episode.metadata.get("redactions") or {})
    counts.update(made)
    metadata["redactions"] = dict(sorted(counts.items()))
    data["metadata"] = metadata
    if totals is not None:
        for kind, n in made.items():
            totals[kind] = totals.get(kind, 0) + n
    return Episode.model_validate(data)
