"""Results remembered by the identity of an object that is never changed in place."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ByIdentity(Generic[V]):
    """The results for the latest `size` objects (and variants), by identity. Each object is
    kept alive here, so that its id is not reused while its result is remembered. For objects
    nobody changes in place, such as a frame's word list (frames with the same words share one)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._hits: dict[tuple[int, Hashable], tuple[object, V]] = {}

    def get(self, obj: object, make: Callable[[], V], variant: Hashable = None) -> V:
        key = (id(obj), variant)
        hit = self._hits.get(key)
        if hit is None or hit[0] is not obj:
            if len(self._hits) >= self.size:
                self._hits.clear()  # (dropping the oldest one by one would cost a scan each time)
            hit = self._hits[key] = (obj, make())
        return hit[1]
