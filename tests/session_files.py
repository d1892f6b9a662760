"""Session folders in the session format (docs/session-format.md), written event by event, for tests that need a
recording with known content (the recorder's own tests record real ones)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

T0 = 1767225600.0


class SessionFiles:
    def __init__(self, folder: Path, task: str | None = None, size: tuple[int, int] = (800, 600)) -> None:
        self.path, self.size = folder, size
        (folder / "frames").mkdir(parents=True)
        meta = {
            "schema_version": 1,
            "id": folder.name,
            "started_at": T0,
            "ended_at": T0 + 300,
            "platform": "linux",
            "monitors": [{"index": 0, "left": 0, "top": 0, "width": size[0], "height": size[1], "scale": 1.0}],
            "recorder": {},
            "task": task,
        }
        (folder / "session.json").write_text(json.dumps(meta))
        self.lines: list[str] = []
        self.frames = 0

    def event(self, t: float, type_: str, **fields: Any) -> None:
        self.lines.append(json.dumps({"t": T0 + t, "type": type_, **fields}))

    def window(self, t: float, title: str, app: str) -> None:
        self.event(t, "window", title=title, app=app, bounds=[0, 0, *self.size])

    def add_frame(self, t: float, image: Image.Image | Path, reason: str = "after") -> str:
        """A frame event and its file (a PNG), from an image or a copy of an image file."""
        file = f"frames/{self.frames:06d}.png"
        self.frames += 1
        if isinstance(image, Path):
            (self.path / file).write_bytes(image.read_bytes())
        else:
            image.save(self.path / file)
        self.event(
            t,
            "frame",
            file=file,
            monitor=0,
            width=self.size[0],
            height=self.size[1],
            reason=reason,
            hash=f"h{self.frames}",
        )
        return file

    def click(self, t: float, x: int, y: int, button: str = "left", to: tuple[int, int] | None = None) -> None:
        self.event(t, "click", x=x, y=y, button=button, pressed=True)
        end = to or (x, y)
        self.event(t + 0.08, "click", x=end[0], y=end[1], button=button, pressed=False)

    def type(self, t: float, text: str, gap: float = 0.1) -> float:
        """Key presses and releases for `text`, one every `gap` seconds; the time after the last."""
        for ch in text:
            key = {" ": "space", "\n": "enter"}.get(ch, ch)
            self.event(t, "key", key=key, char=ch, pressed=True)
            self.event(t + gap / 3, "key", key=key, char=None, pressed=False)
            t += gap
        return t

    def keys(self, t: float, *combo: str) -> None:
        for k in combo:
            self.event(t, "key", key=k, char=None, pressed=True)
        for k in reversed(combo):
            self.event(t + 0.05, "key", key=k, char=None, pressed=False)

    def save(self, extra_lines: list[str] | None = None) -> Path:
        (self.path / "events.jsonl").write_text("\n".join(self.lines + (extra_lines or [])) + "\n")
        return self.path
