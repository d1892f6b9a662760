"""Recorder settings (validated once at the CLI boundary) and hotkey parsing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

MODIFIER_ALIASES = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "ctrl_l": "ctrl",
    "ctrl_r": "ctrl",
    "alt": "alt",
    "alt_l": "alt",
    "alt_r": "alt",
    "alt_gr": "alt",
    "option": "alt",
    "shift": "shift",
    "shift_l": "shift",
    "shift_r": "shift",
    "cmd": "cmd",
    "super": "cmd",
    "win": "cmd",
    "meta": "cmd",
    "cmd_l": "cmd",
    "cmd_r": "cmd",
}


class Hotkey(BaseModel):
    """A chord such as ctrl+alt+p: modifiers held, then one trigger key pressed."""

    text: str
    modifiers: frozenset[str]
    key: str

    @classmethod
    def parse(cls, text: str) -> Hotkey:
        parts = [p.strip().lower() for p in text.replace("-", "+").split("+") if p.strip()]
        if not parts:
            raise ValueError(f"empty hotkey {text!r}")
        *mods, key = parts
        bad = [m for m in mods if m not in MODIFIER_ALIASES]
        if bad:
            raise ValueError(f"hotkey {text!r}: unknown modifier(s) {', '.join(bad)}")
        if key in MODIFIER_ALIASES:
            raise ValueError(f"hotkey {text!r} needs a non-modifier key last")
        return cls(text=text, modifiers=frozenset(MODIFIER_ALIASES[m] for m in mods), key=key)

    def matches(self, held: set[str], key: str) -> bool:
        return key.lower() == self.key and self.modifiers <= held and held <= self.modifiers | {"shift"}


class RecorderConfig(BaseModel):
    out: Path = Path("data/sessions")
    task: str | None = None
    exclude_window: list[str] = Field(default_factory=list)
    frame_format: Literal["webp", "png"] = "webp"
    frame_quality: int = Field(default=60, ge=1, le=100)
    # Encoder effort. libwebp methods 3-6 add a rate-distortion pass that more than doubles the
    # encode time for ~5% smaller files; method 2 with a bicubic resize encodes a 1080p frame in
    # about half the CPU of method 4 + lanczos (bench/RESULTS-recorder.md, burst CPU).
    webp_method: int = Field(default=2, ge=0, le=6)
    resample: Literal["bicubic", "lanczos", "hamming", "bilinear"] = "bicubic"
    scale: float = Field(default=1.0, gt=0.05, le=1.0)
    gray: bool = False
    min_frame_interval: float = Field(default=0.3, ge=0.0)
    settle: float = Field(default=0.5, ge=0.05, description="seconds after an action before the 'after' frame")
    idle: float = Field(default=30.0, gt=0.0, description="seconds without input that count as idle")
    move_interval: float = Field(default=0.05, ge=0.0, description="mouse_move throttle (0.05 s = 20/s)")
    flush_interval: float = Field(default=0.25, gt=0.0, le=1.0)
    window_poll: float = Field(default=0.25, gt=0.0)
    frame_queue: int = Field(default=4, ge=1, description="frames waiting for the encoder before drops")
    pause_hotkey: str = "ctrl+alt+p"
    stop_hotkey: str = "ctrl+alt+q"
    clipboard: bool = True  # record the CLIPBOARD's text on each copy (X11)
    status: bool | None = None  # None: only when stdout is a TTY

    @field_validator("exclude_window")
    @classmethod
    def _valid_regexes(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"--exclude-window {p!r}: {exc}") from exc
        return patterns

    @field_validator("pause_hotkey", "stop_hotkey")
    @classmethod
    def _valid_hotkey(cls, text: str) -> str:
        if text:
            Hotkey.parse(text)
        return text

    def public(self) -> dict:
        """What goes into session.json `recorder` (the frame policy and exclusions)."""
        data = self.model_dump(mode="json", exclude={"out", "task", "status"})
        return data
