"""Recorded sessions drawn for the vision tests, and real builds of them (the CLI with a YAML config)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, ImageDraw, ImageFont
from session_files import SessionFiles

from toolbox.cli import main

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def frame_image(size: tuple[int, int], label: str = "") -> Image.Image:
    image = Image.new("RGB", size, (235, 238, 242))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] - 1, 40), fill=(60, 60, 70))
    if label:
        draw.text((size[0] // 3, size[1] // 3), label, fill="black", font=ImageFont.truetype(FONT, 28))
    return image


def corners(size: tuple[int, int]) -> list[tuple[int, int]]:
    """Clicks near each corner of the screen, and its middle."""
    width, height = size
    return [
        (0, 0),
        (width - 1, 0),
        (0, height - 1),
        (width - 1, height - 1),
        (3, height - 3),
        (width // 2, height // 2),
    ]


def click_session(root: Path, size: tuple[int, int], clicks: list[tuple[int, int]]) -> Path:
    """A labelled task of clicks, each on a frame taken just before it."""
    s = SessionFiles(root / f"20260101T000000Z-{size[0]}x{size[1]}", task="Click around the screen", size=size)
    s.window(0.1, "Board - Chromium", "chromium")
    for i, (x, y) in enumerate(clicks):
        s.add_frame(1.0 + i, frame_image(size, f"step {i}"), reason="before")
        s.click(1.1 + i, x, y)
    s.add_frame(1.0 + len(clicks), frame_image(size, "done"), reason="after")
    return s.save()


def build(
    tmp: Path, sessions: Path, fmt: str | dict[str, Any], ocr: str | None = None, name: str = "out", exit_code: int = 0
) -> Path:
    """A real build (the CLI, a YAML config) of every session under `sessions`; the output.
    `exit_code`: 3 where the build is expected to write nothing."""
    config = {
        "datasets": [{"name": "sessions", "path": str(sessions)}],
        "tasks": [{"name": "interval_episodes", "ocr": ocr}],
        "format": fmt,
        "output": str(tmp / "out" / f"{name}.jsonl"),
        "cache_dir": str(tmp / "cache"),
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["--config", str(path), "-q"]) == exit_code
    return tmp / "out" / f"{name}.jsonl"


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def stats(path: Path) -> dict[str, Any]:
    return json.loads(path.with_name(path.name + ".stats.json").read_text())


def mixed_session(root: Path, size: tuple[int, int] = (1920, 1080)) -> Path:
    """A click, a drag, a scroll, typing with Enter and a copy, each on its own frame."""
    s = SessionFiles(root / "20260101T000000Z-mixed", task="Move the card and note it", size=size)
    s.window(0.1, "Board - Chromium", "chromium")
    s.add_frame(1.0, frame_image(size, "board"), reason="before")
    s.click(1.1, 200, 150)
    s.add_frame(2.0, frame_image(size, "card"), reason="before")
    s.click(2.1, 400, 300, to=(900, 620))
    s.add_frame(3.0, frame_image(size, "moved"), reason="before")
    s.event(3.1, "scroll", x=1000, y=700, dx=0, dy=-3)
    s.add_frame(4.0, frame_image(size, "scrolled"), reason="before")
    t = s.type(4.1, "done\n")
    s.keys(t + 0.5, "ctrl", "c")
    s.add_frame(t + 1.5, frame_image(size, "noted"), reason="after")
    return s.save()
