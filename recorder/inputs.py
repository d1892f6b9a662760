"""pynput listeners. The callbacks only timestamp and enqueue (SimpleQueue.put never blocks),
so the system's input path is never slowed by the recorder; `timings` keeps the time spent in
each callback for the benchmark."""

from __future__ import annotations

import queue
import time
from typing import Any


class InputListeners:
    def __init__(self, out: queue.SimpleQueue[tuple[Any, ...]], measure: bool = False) -> None:
        self.out = out
        self.measure = measure
        self.timings: list[float] = []  # seconds per callback, only when measure=True
        self._mouse = None
        self._keyboard = None

    # The callbacks: time.time() first, then one put.
    def _on_move(self, x: int, y: int, *_: Any) -> None:
        start = time.perf_counter()
        self.out.put((time.time(), "move", x, y))
        if self.measure:
            self.timings.append(time.perf_counter() - start)

    def _on_click(self, x: int, y: int, button: Any, pressed: bool, *_: Any) -> None:
        start = time.perf_counter()
        self.out.put((time.time(), "click", x, y, button, pressed))
        if self.measure:
            self.timings.append(time.perf_counter() - start)

    def _on_scroll(self, x: int, y: int, dx: int, dy: int, *_: Any) -> None:
        start = time.perf_counter()
        self.out.put((time.time(), "scroll", x, y, dx, dy))
        if self.measure:
            self.timings.append(time.perf_counter() - start)

    def _on_press(self, key: Any, *_: Any) -> None:
        start = time.perf_counter()
        self.out.put((time.time(), "key", key, True))
        if self.measure:
            self.timings.append(time.perf_counter() - start)

    def _on_release(self, key: Any, *_: Any) -> None:
        start = time.perf_counter()
        self.out.put((time.time(), "key", key, False))
        if self.measure:
            self.timings.append(time.perf_counter() - start)

    def start(self) -> None:
        from pynput import keyboard, mouse

        self._mouse = mouse.Listener(on_move=self._on_move, on_click=self._on_click, on_scroll=self._on_scroll)
        self._keyboard = keyboard.Listener(on_press=self._on_press, on_release=self._on_release)
        self._mouse.name, self._keyboard.name = "input-mouse", "input-keyboard"
        self._mouse.start()
        self._keyboard.start()
        self._mouse.wait()
        self._keyboard.wait()

    def stop(self) -> None:
        for listener in (self._mouse, self._keyboard):
            if listener is not None:
                listener.stop()
