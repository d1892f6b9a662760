"""Transcribers write episodes from the evidence of activity intervals.

The interval task (toolbox/tasks/interval_episodes.py) cuts a session into `Interval`s
(toolbox/activity/models.py) and fills in the evidence: actions, typed text, screen text (OCR).
A transcriber turns a batch of intervals into episodes: `heuristic` offline and deterministic,
`openai` through an LLM.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from toolbox.activity.models import Interval
from toolbox.core.models import Episode
from toolbox.core.plugin import Plugin


class Transcriber(Plugin):
    """Turn intervals into episodes. Gets a batch (all intervals of a session) so that an LLM
    transcriber can work on several at once, or on the whole task. An interval it cannot
    transcribe is counted with `self.ctx.stats.drop(self.plugin_name, reason, interval.id)`."""

    def transcribe(self, intervals: Sequence[Interval]) -> Iterator[Episode]:
        raise NotImplementedError
