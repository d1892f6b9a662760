"""The grounding check of one episode: each value that must be traced (values.py) looked up in
the evidence (evidence.py); the trace kept in `metadata.grounding`."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from toolbox.core.models import Episode, EpisodeEvidence
from toolbox.grounding.evidence import Evidence, Found, add_metadata
from toolbox.grounding.values import episode_values

SHOWN_UNGROUNDED = 10  # values named in a re-ask or a drop's detail


class TracedValue(BaseModel):
    value: str
    where: str
    found: Found | None = None  # None: not in the evidence


class Grounding(BaseModel):
    """`metadata.grounding`: every checked value and where it was found; the grounded share."""

    share: float | None = None  # grounded / checked; None when nothing needed checking
    checked: int = 0
    ungrounded: list[str] = Field(default_factory=list)  # the values not found, once each
    values: list[TracedValue] = Field(default_factory=list)
    kept_ungrounded: bool = False  # set when `on_ungrounded: keep` let it through

    def describe(self) -> str:
        """The values not found, with where they are in the episode (for a re-ask, a drop's detail)."""
        missing = [v for v in self.values if v.found is None]
        parts = [f"{json.dumps(v.value, ensure_ascii=False)} ({v.where})" for v in missing[:SHOWN_UNGROUNDED]]
        more = len(missing) - SHOWN_UNGROUNDED
        return ", ".join(parts) + (f" and {more} more" if more > 0 else "")

    def as_metadata(self) -> dict[str, Any]:
        """JSON-ready, compact: a value's `found` is left out when it was not found, a score of 100 too."""
        data: dict[str, Any] = {"share": self.share, "checked": self.checked, "ungrounded": self.ungrounded}
        if self.kept_ungrounded:
            data["kept_ungrounded"] = True
        data["values"] = [v.model_dump(mode="json", exclude_defaults=True, exclude_none=True) for v in self.values]
        return data


def ground(episode: Episode, evidence: Evidence) -> Grounding:
    values = [TracedValue(value=v.text, where=v.where, found=evidence.find(v.text)) for v in episode_values(episode)]
    missing = list(dict.fromkeys(v.value for v in values if v.found is None))
    share = round(1 - sum(v.found is None for v in values) / len(values), 4) if values else None
    return Grounding(share=share, checked=len(values), ungrounded=missing, values=values)


def carried_evidence(episode: Episode, threshold: float) -> Evidence | None:
    """The evidence an episode carries in its metadata (and the digest of earlier intervals its
    request had), or None when it carries none (an episode read from a file)."""
    meta = EpisodeEvidence.model_validate(
        {k: v for k, v in episode.metadata.items() if k in EpisodeEvidence.model_fields}
    )
    if not (meta.actions or meta.ocr or meta.windows or meta.task):
        return None
    evidence = Evidence(threshold)
    add_metadata(evidence, meta)
    evidence.add_text("earlier", episode.metadata.get("earlier"))
    return evidence


@dataclass
class GroundingTally:
    """A build's grounding totals for its summary (one per build: `ctx.shared`)."""

    checked: int = 0
    grounded: int = 0
    reasks: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, grounding: Grounding, seconds: float, reasks: int) -> None:
        with self._lock:
            self.checked += grounding.checked
            self.grounded += sum(v.found is not None for v in grounding.values)
            self.reasks += reasks
            self.seconds += seconds

    def publish(self, extra: dict[str, Any]) -> None:
        with self._lock:
            if self.checked or self.reasks:
                extra["grounding_values_checked"] = self.checked
                extra["grounding_share"] = round(self.grounded / self.checked, 4) if self.checked else 1.0
                extra["grounding_reasks"] = self.reasks
                extra["grounding_seconds"] = round(self.seconds, 3)
