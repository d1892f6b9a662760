"""`grounded`: the grounding check of the `openai` transcriber (toolbox/grounding) on any episode
that carries the evidence of its recording (`EpisodeEvidence` in its metadata): every value of
its calls, responses and final answer must be found in that evidence.

An episode joining several intervals carries every action's text, target and result but only the
last interval's screen words, so a value read from an earlier screen may be found here only
through an action's result. Episodes without evidence (read from a file) pass unchanged and are
counted (`grounded_without_evidence`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolbox.core.filter import Drop, Filter, Verdict
from toolbox.core.models import Episode
from toolbox.core.plugin import Options
from toolbox.core.registry import register_filter
from toolbox.grounding import NEAR_THRESHOLD, carried_evidence, ground


@register_filter("grounded")
class Grounded(Filter):
    """Drop (or flag) episodes with a value not found in the recording's evidence they carry."""

    class Options(Options):
        on_ungrounded: Literal["drop", "keep"] = "drop"  # keep: flagged in metadata.grounding
        match_threshold: float = Field(NEAR_THRESHOLD, ge=50, le=100)  # rapidfuzz ratio of a near match

    def check(self, episode: Episode) -> Verdict:
        evidence = carried_evidence(episode, self.options.match_threshold)
        if evidence is None:
            extra = self.ctx.stats.extra
            extra["grounded_without_evidence"] = extra.get("grounded_without_evidence", 0) + 1
            return episode
        grounding = ground(episode, evidence)
        if grounding.ungrounded and self.options.on_ungrounded == "drop":
            return Drop("ungrounded", grounding.describe())
        grounding.kept_ungrounded = bool(grounding.ungrounded)
        return episode.model_copy(update={"metadata": {**episode.metadata, "grounding": grounding.as_metadata()}})
