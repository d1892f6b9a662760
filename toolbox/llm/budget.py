"""A spending cap in USD, shared by every LLM plugin of a build and safe across threads.

Before each request the caller reserves a conservative estimate (every prompt token plus the
full `max_tokens` of completion); the request is refused if spent + reserved + estimate would
pass the cap. After the reply the reservation is replaced by the real cost from the server's
usage. So the cap holds unless a server bills more than the estimate, and then by less than
one request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


class BudgetReached(Exception):
    """No more requests: the next one could pass the budget."""


@dataclass
class Reservation:
    amount: float
    settled: bool = False


class Budget:
    def __init__(self) -> None:
        self.spent = 0.0
        self.reserved = 0.0
        self.reached = False
        self._lock = threading.Lock()

    def reserve(self, estimate: float, cap: float | None) -> Reservation:
        with self._lock:
            if cap is not None and (self.reached or self.spent + self.reserved + estimate > cap):
                self.reached = True
                raise BudgetReached(f"LLM budget of ${cap:.4f} reached (spent ${self.spent:.4f})")
            self.reserved += estimate
            return Reservation(estimate)

    def settle(self, reservation: Reservation, cost: float) -> None:
        with self._lock:
            if not reservation.settled:
                reservation.settled = True
                self.reserved -= reservation.amount
                self.spent += cost
