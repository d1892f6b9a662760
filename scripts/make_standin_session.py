"""Write a small synthetic session in the DESIGN.md format (a stand-in until a real recording
replaces it). Usage: python scripts/make_standin_session.py OUT_ROOT"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw


def main(root: Path) -> None:
    folder = root / "20260101T000000Z-standin"
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    t0 = 1767225600.0
    events: list[dict] = [{"t": t0, "type": "window", "title": "notes - xterm", "app": "xterm", "bounds": [0, 0, 640, 480]}]
    for n, text in enumerate(["hello world", "ls -la"]):
        image = Image.new("RGB", (640, 480), "white")
        ImageDraw.Draw(image).text((20, 20 + 30 * n), f"$ {text}", fill="black")
        name = f"frames/{n:06d}.png"
        image.save(folder / name)
        t = t0 + 1 + 10 * n
        events.append({"t": t, "type": "frame", "file": name, "monitor": 0, "width": 640, "height": 480, "reason": "before", "hash": str(n)})
        events.append({"t": t + 0.1, "type": "click", "x": 100, "y": 40 + 30 * n, "button": "left", "pressed": True})
        events.append({"t": t + 0.2, "type": "click", "x": 100, "y": 40 + 30 * n, "button": "left", "pressed": False})
        for i, char in enumerate(text):
            key = "space" if char == " " else char
            events.append({"t": t + 1 + i * 0.1, "type": "key", "key": key, "char": char, "pressed": True})
            events.append({"t": t + 1.05 + i * 0.1, "type": "key", "key": key, "char": char, "pressed": False})
        events.append({"t": t + 3, "type": "key", "key": "enter", "char": None, "pressed": True})
    meta = {"schema_version": 1, "id": folder.name, "started_at": t0, "ended_at": t0 + 30, "platform": "linux",
            "monitors": [{"index": 0, "left": 0, "top": 0, "width": 640, "height": 480, "scale": 1.0}],
            "recorder": {"standin": True}, "task": "Greet the world, then list the files"}
    (folder / "session.json").write_text(json.dumps(meta, indent=2))
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "examples/sessions"))
