from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolbox.core.filter import Drop, Filter, Verdict
from toolbox.core.models import Episode
from toolbox.core.plugin import Options
from toolbox.core.registry import register_filter
from toolbox.core.tokens import TokenCounter


@register_filter("max_length")
class MaxLength(Filter):
    """Keep episodes within a token budget (cl100k_base or the tokenizer): trim whole turns from the end, or drop."""

    class Options(Options):
        max_tokens: int = Field(4096, gt=0)
        mode: Literal["trim", "drop"] = "trim"

    batch = 512  # episodes whose tokens are counted together

    def prepare(self, episodes: list[Episode]) -> None:
        self.ctx.shared(TokenCounter, TokenCounter).prepare(episodes)

    def check(self, episode: Episode) -> Verdict:
        counter = self.ctx.shared(TokenCounter, TokenCounter)
        total = counter.count(episode)
        limit = self.options.max_tokens
        if total <= limit:
            return episode
        if self.options.mode == "trim":
            # Cut only after an assistant text turn (a final answer): never between a call and
            # its result, and every format can end there. The longest such start that fits wins.
            cuts = [
                i + 1
                for i, turn in enumerate(episode.turns[:-1])
                if turn.role == "assistant" and not turn.tool_calls and turn.content
            ]
            fitting = [k for k, n in zip(cuts, counter.prefix_counts(episode, cuts)) if n <= limit]
            if fitting:
                keep = fitting[-1]
                trimmed = episode.model_copy(update={"turns": episode.turns[:keep]})
                trimmed.metadata = {**episode.metadata, "trimmed_turns": len(episode.turns) - keep}
                counter.forget(episode)  # the trimmed copy goes on in its place
                return trimmed
        return Drop("too long", f"{total} > {limit} tokens")
