"""What the LLM plugins of one build share: the budget, the metrics and the stop flag.

One runtime per BuildContext, so the transcriber, the judge and the synthetic dataset of a
build draw on the same budget. After each request the totals are copied into
`ctx.stats.extra` (the build summary prints them); when the build finishes the runtime writes
`<output>.llm-metrics.json`. In a build spread over workers, the budget is the build's one
`Limits` (budget.py), and each worker's requests join the driver's metrics (`WorkerState`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from toolbox.core.plugin import BuildContext, WorkerState
from toolbox.llm.budget import Budget, Limits
from toolbox.llm.metrics import PUBLISHED, Metrics, RequestRecord

log = logging.getLogger("datamakr")


class LLMRuntime(WorkerState):
    def __init__(self, ctx: BuildContext) -> None:
        self.stats = ctx.stats
        self.budget = Budget(lambda: ctx.shared(Limits, Limits))
        self.metrics = Metrics()
        self.stop = threading.Event()  # set on Ctrl+C: running requests give up their retries
        self._lock = threading.Lock()
        ctx.on_finish(self.write_metrics)

    def write_metrics(self, output: Path) -> None:
        """`<output>.llm-metrics.json`: every request of the build and the totals."""
        self.metrics.write(metrics_path(output))

    def record(self, record: RequestRecord) -> None:
        self.metrics.add(record)
        self.publish()

    def item_done(self, failure_reason: str | None) -> None:
        self.metrics.item_done(failure_reason)
        self.publish()

    def publish(self) -> None:
        summary = self.metrics.summary()
        with self._lock:
            self.stats.extra.update({k: v for k, v in summary.items() if not isinstance(v, dict)})
            if summary["llm_failures"]:
                self.stats.extra["llm_failures"] = summary["llm_failures"]

    def shard_delta(self) -> dict[str, Any]:
        """This worker's requests; its totals leave the worker's counts, the driver publishes the build's."""
        with self._lock:
            for key in PUBLISHED:
                self.stats.extra.pop(key, None)
        return self.metrics.state()

    def merge_shard(self, delta: dict[str, Any]) -> None:
        self.metrics.merge_state(delta)
        self.publish()

    def shard_reusable(self) -> bool:
        """A shard where an LLM item failed (the budget, an outage) is done again by a restarted build."""
        return not self.metrics.item_failures

    def budget_stopped(self, cap: float) -> None:
        """Say once, loudly, that the budget stopped the LLM work."""
        with self._lock:
            if self.stats.extra.get("budget_stopped"):
                return
            self.stats.extra["budget_stopped"] = True
        spent = self.budget.first_stop()
        if spent is None:  # another worker said it
            return
        log.warning(
            "LLM budget of $%.4f reached ($%.4f spent): no further requests; every finished episode is still written",
            cap,
            spent,
        )


def runtime_for(ctx: BuildContext) -> LLMRuntime:
    """The build's runtime, made on first use; it writes the metrics when the build finishes."""
    return ctx.shared(LLMRuntime, lambda: LLMRuntime(ctx))


def metrics_path(output: Path) -> Path:
    return output.with_name(output.name + ".llm-metrics.json")
