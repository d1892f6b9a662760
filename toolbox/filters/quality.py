from __future__ import annotations

from pydantic import Field

from toolbox.core.filter import Drop, Filter, Verdict
from toolbox.core.models import Episode
from toolbox.core.plugin import Options
from toolbox.core.registry import register_filter


def non_text_share(text: str) -> float:
    """Share of characters that are neither letters, digits, whitespace nor common punctuation
    (OCR garbage and binary noise score high)."""
    if not text:
        return 0.0
    plain = sum(1 for c in text if c.isalnum() or c.isspace() or c in ".,;:!?'\"()-_/@#%&*+=<>[]{}$")
    return 1 - plain / len(text)


@register_filter("quality")
class Quality(Filter):
    """Drop thin or noisy episodes: too few turns, too little user/assistant text, no tool call, too many non-text characters."""

    class Options(Options):
        min_turns: int = Field(2, ge=0)
        min_user_chars: int = Field(1, ge=0)
        min_assistant_chars: int = Field(0, ge=0)
        require_tool_call: bool = False
        max_non_text_share: float = Field(0.3, ge=0, le=1)

    def check(self, episode: Episode) -> Verdict:
        o = self.options
        if len(episode.turns) < o.min_turns:
            return Drop("too few turns", f"{len(episode.turns)} < {o.min_turns}")
        user = sum(len(t.content or "") for t in episode.turns if t.role == "user")
        if user < o.min_user_chars:
            return Drop("too little user text", f"{user} < {o.min_user_chars} characters")
        assistant = sum(len(t.content or "") for t in episode.turns if t.role == "assistant")
        if assistant < o.min_assistant_chars:
            return Drop("too little assistant text", f"{assistant} < {o.min_assistant_chars} characters")
        if o.require_tool_call and not episode.tool_call_count():
            return Drop("no tool call")
        share = non_text_share(episode.text())
        if share > o.max_non_text_share:
            return Drop("too much non-text", f"{share:.2f} > {o.max_non_text_share}")
        return episode
