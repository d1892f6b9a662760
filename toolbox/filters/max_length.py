from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Literal

from pydantic import Field

from toolbox.core.filter import Drop, Dropped, Filter, Verdict
from toolbox.core.models import Episode
from toolbox.core.plugin import Options
from toolbox.core.registry import register_filter
from toolbox.core.tokens import count_episodes, turn_tokens

BATCH = 512  # episodes counted together


@register_filter("max_length")
class MaxLength(Filter):
    """Keep episodes within a token budget (tiktoken cl100k_base): trim whole turns from the end, or drop."""

    class Options(Options):
        max_tokens: int = Field(4096, gt=0)
        mode: Literal["trim", "drop"] = "trim"

    def apply(self, episodes: Iterator[Episode]) -> Iterator[Episode | Dropped]:
        """Each episode decided as `check` does, the tokens of `BATCH` episodes counted at once."""
        while batch := list(islice(episodes, BATCH)):
            for episode, (head, counts) in zip(batch, count_episodes(batch)):
                verdict = self.decide(episode, head, counts)
                if isinstance(verdict, Drop):
                    yield Dropped(episode, self.plugin_name, verdict.reason, verdict.detail)
                else:
                    yield verdict

    def check(self, episode: Episode) -> Verdict:
        return self.decide(episode, *turn_tokens(episode))

    def decide(self, episode: Episode, head: int, counts: list[int]) -> Verdict:
        """Keep, trim or drop an episode of `head` + `counts` tokens (its fixed part, its turns)."""
        total = head + sum(counts)
        limit = self.options.max_tokens
        if total <= limit:
            return episode
        if self.options.mode == "trim":
            # Cut only after an assistant text turn (a final answer): never between a call and
            # its result, and every format can end there.
            running, keep = head, 0
            for i, (turn, count) in enumerate(zip(episode.turns, counts)):
                running += count
                if running > limit:
                    break
                if turn.role == "assistant" and not turn.tool_calls and turn.content:
                    keep = i + 1
            if keep:
                trimmed = episode.model_copy(update={"turns": episode.turns[:keep]})
                trimmed.metadata = {**episode.metadata, "trimmed_turns": len(episode.turns) - keep}
                return trimmed
        return Drop("too long", f"{total} > {limit} tokens")
