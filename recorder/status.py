"""The live status line (only when stdout is a terminal)."""

from __future__ import annotations

import sys
from typing import TextIO


def fmt_elapsed(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def status_text(state: str, elapsed: float, events: int, frames: int, dropped: int, size: int) -> str:
    drop = f" ({dropped} dropped)" if dropped else ""
    return f"{state:<9} {fmt_elapsed(elapsed)}  events {events}  frames {frames}{drop}  {size / 1e6:.1f} MB"


class StatusLine:
    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self._width = 0

    def show(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def done(self) -> None:
        if self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
