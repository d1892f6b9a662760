"""A spending cap in USD and a cap on requests in flight, shared by every LLM plugin of a build,
across threads and across workers.

Before each request the caller reserves a conservative estimate (every prompt token plus the
full `max_tokens` of completion); the request is refused if spent + reserved + estimate would
pass the cap. After the reply the reservation is replaced by the real cost from the server's
usage. So the cap holds unless a server bills more than the estimate, and then by less than
one request per request in flight.

The state lives in one `Limits` object per build. In one process the plugins call it directly;
with several workers (core/executor.py) it is served from one place (a manager process, a Ray
actor) and every worker's `Budget` calls that one, so the cap and the concurrency hold for the
build, not per worker.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from toolbox.core.plugin import shared_across_workers

SLOT_POLL_SECONDS = 0.02  # how often a request waiting for a free slot asks again


class BudgetReached(Exception):
    """No more requests: the next one could pass the budget."""


@shared_across_workers
class Limits:
    """The build's spending and requests in flight. Methods take and return plain values, so a
    proxy in another process can call them."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.reserved = 0.0
        self.reached = False
        self.stop_said = False
        self._slots: dict[str, dict[int, float]] = {}  # key -> token -> lease end (monotonic)
        self._tokens = 0
        self._lock = threading.Lock()

    def reserve(self, estimate: float, cap: float | None) -> float | None:
        """Reserve `estimate`; None if done, else the amount spent (the budget is reached)."""
        with self._lock:
            if cap is not None and (self.reached or self.spent + self.reserved + estimate > cap):
                self.reached = True
                return self.spent
            self.reserved += estimate
            return None

    def settle(self, amount: float, cost: float) -> None:
        """Replace a reservation of `amount` by the real `cost`."""
        with self._lock:
            self.reserved -= amount
            self.spent += cost

    def first_stop(self) -> float | None:
        """The amount spent, the first time it is asked after the budget was reached; then None
        (so the build says it once, whichever worker reached it)."""
        with self._lock:
            if self.stop_said:
                return None
            self.stop_said = True
            return self.spent

    def try_acquire(self, key: str, size: int, lease_seconds: float) -> int | None:
        """A token for one of `size` slots named `key`, or None if all are taken. A slot not
        released within `lease_seconds` (its worker died) is free again."""
        with self._lock:
            now = time.monotonic()
            held = self._slots.setdefault(key, {})
            for token in [t for t, end in held.items() if end < now]:
                del held[token]
            if len(held) >= size:
                return None
            self._tokens += 1
            held[self._tokens] = now + lease_seconds
            return self._tokens

    def release(self, key: str, token: int) -> None:
        with self._lock:
            self._slots.get(key, {}).pop(token, None)


@dataclass
class Reservation:
    amount: float
    settled: bool = False


class Budget:
    """What an LLM client uses: reserve and settle spending, hold a slot for a request. Looks
    the build's `Limits` up at each call (`limits()`), so an executor may put a shared one in
    place before the build starts."""

    def __init__(self, limits: Callable[[], Limits]) -> None:
        self._limits = limits
        self._lock = threading.Lock()

    def reserve(self, estimate: float, cap: float | None) -> Reservation:
        spent = self._limits().reserve(estimate, cap)
        if spent is not None:
            raise BudgetReached(f"LLM budget of ${cap:.4f} reached (spent ${spent:.4f})")
        return Reservation(estimate)

    def settle(self, reservation: Reservation, cost: float) -> None:
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
        self._limits().settle(reservation.amount, cost)

    def first_stop(self) -> float | None:
        return self._limits().first_stop()

    @contextlib.contextmanager
    def slot(self, key: str, size: int, lease_seconds: float, stop: threading.Event) -> Iterator[None]:
        """Hold one of `size` slots named `key` (e.g. a plugin's `concurrency`) for the
        duration of a request; wait for one (until `stop` is set)."""
        limits = self._limits()
        token = limits.try_acquire(key, size, lease_seconds)
        while token is None:
            if stop.wait(SLOT_POLL_SECONDS):
                raise InterruptedError("the build was interrupted")
            token = limits.try_acquire(key, size, lease_seconds)
        try:
            yield
        finally:
            limits.release(key, token)
