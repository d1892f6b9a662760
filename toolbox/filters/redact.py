"""The `redact` filter: secrets and personal data in every text of an episode become typed
placeholders, consistent within the episode (one `RedactionMap` each)."""

from __future__ import annotations

from toolbox.core.filter import Filter, Verdict
from toolbox.core.models import Episode
from toolbox.core.registry import register_filter
from toolbox.privacy import RedactionOptions, Redactor
from toolbox.privacy.episodes import redact_episode


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
