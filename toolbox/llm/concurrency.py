"""Several requests in flight, results in input order (so the output is deterministic)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], concurrency: int, stop: threading.Event | None = None
) -> Iterator[R]:
    """`map(fn, items)` with up to `concurrency` calls running at once, yielded in input order.

    Lazy: it reads `items` only a little ahead of what it yields, so it works on a stream. If the
    consumer stops early, queued calls are cancelled; on an exception (Ctrl+C) `stop` is also
    set so running calls give up their retries."""
    if concurrency <= 1:
        for item in items:
            yield fn(item)
        return
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm")
    window: deque[Future[R]] = deque()
    try:
        for item in items:
            window.append(pool.submit(fn, item))
            while len(window) >= 2 * concurrency or (window and window[0].done()):
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    except GeneratorExit:  # the consumer stopped early: drop queued calls, let running ones end
        raise
    except BaseException:  # Ctrl+C or an error: running calls should stop retrying too
        if stop is not None:
            stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
