"""What every LLM request cost: tokens, latency, dollars, retries; a summary and a JSON file."""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel

from toolbox.core.io import write_atomic

Outcome = Literal["ok", "invalid", "transient", "error", "cached"]
TOTALS = ("requests", "cache_hits", "retries", "prompt_tokens", "completion_tokens", "items_ok")
# the keys `summary()` gives, which the runtime copies into the build's counts
PUBLISHED = (
    *(f"llm_{k}" for k in TOTALS),
    "llm_items_failed",
    "llm_cost_usd",
    "llm_latency_mean_s",
    "llm_latency_p95_s",
    "llm_failures",
)


class RequestRecord(BaseModel):
    """One HTTP attempt (or one cache hit)."""

    item: str  # what the request was for, e.g. an interval id
    purpose: str  # the plugin that asked
    outcome: Outcome
    round: int = 0  # validation round: 0 = first ask, 1.. = re-asks after an invalid reply
    attempt: int = 0  # transient-error retry within the round
    status: int | None = None  # HTTP status when there was one
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: bool = False  # the server sent no usage; tokens counted here
    latency_s: float = 0.0
    cost_usd: float = 0.0
    error: str | None = None


class Metrics:
    """Every request of a build, with running totals (cheap to publish after each request)."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []
        self.totals: Counter[str] = Counter()
        self.item_failures: Counter[str] = Counter()  # reason -> items given up
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self.records.append(record)
            if record.outcome == "cached":
                self.totals["cache_hits"] += 1
                return
            self.totals["requests"] += 1
            self.totals["retries"] += record.attempt > 0 or record.round > 0
            self.totals["prompt_tokens"] += record.prompt_tokens
            self.totals["completion_tokens"] += record.completion_tokens

    def item_done(self, failure_reason: str | None) -> None:
        with self._lock:
            if failure_reason:
                self.item_failures[failure_reason] += 1
            else:
                self.totals["items_ok"] += 1

    def cost(self) -> float:
        with self._lock:
            return sum(r.cost_usd for r in self.records)

    def summary(self) -> dict[str, Any]:
        """Totals as flat `llm_*` scalars (the build summary prints them) plus failure reasons."""
        with self._lock:
            latencies = sorted(r.latency_s for r in self.records if r.outcome != "cached")
            out: dict[str, Any] = {f"llm_{k}": self.totals[k] for k in TOTALS}
            out["llm_items_failed"] = sum(self.item_failures.values())
            out["llm_cost_usd"] = round(sum(r.cost_usd for r in self.records), 6)
            out["llm_latency_mean_s"] = round(statistics.fmean(latencies), 3) if latencies else 0.0
            out["llm_latency_p95_s"] = round(latencies[int(0.95 * (len(latencies) - 1))], 3) if latencies else 0.0
            out["llm_failures"] = dict(self.item_failures)
            return out

    def state(self) -> dict[str, Any]:
        """Every request and item outcome, JSON-ready (`merge_state` adds them to other metrics)."""
        with self._lock:
            return {
                "records": [r.model_dump() for r in self.records],
                "items_ok": self.totals["items_ok"],
                "item_failures": dict(self.item_failures),
            }

    def merge_state(self, state: dict[str, Any]) -> None:
        for record in state["records"]:
            self.add(RequestRecord.model_validate(record))
        with self._lock:
            self.totals["items_ok"] += state["items_ok"]
            self.item_failures.update(state["item_failures"])

    def write(self, path: Path) -> None:
        summary = self.summary()
        with self._lock:
            records = [r.model_dump() for r in self.records]
        write_atomic(path, orjson.dumps({"summary": summary, "requests": records}, option=orjson.OPT_INDENT_2))
