"""Ordinary screens with nothing private on them, for measuring how much of a frame sent to a
vision model is blacked out: a browser page (headless Chromium screenshot of a local page laid
out as a desktop: the focused browser window and a chat window beside it), a terminal (xterm
under Xvfb) and an editor (mousepad under Xvfb) side by side on a real X screen, each focused in
turn. Used by bench/llm_bench.py and tests/test_grounding_vision.py.

    screens = ordinary_screens(folder)   # [Screen(name, image, bounds, text), ...]
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (1280, 800)
BROWSER = (40, 40, 900, 700)  # the focused window of the browser page: left, top, width, height

PAGE_TEXT = [
    "Quarterly planning",
    "Owner: Dana Whitfield",
    "Ship the search filters by June 14",
    "Budget approved: 12,480 USD",
    "Review with the platform team on Thursday",
]
TABLE = [("Ticket", "Status", "Updated"), ("PLAT-1042", "open", "2026-05-02"), ("PLAT-1043", "done", "2026-05-03")]
CHAT = ["Chat", "Sam: are the runs done?", "Me: two of three", "Sam: great, thanks"]
TERMINAL = ["ls -l", "echo build finished at 14:30", "python --version"]
EDITOR = "Meeting notes\nDecisions: keep the weekly sync\nNext review: 2026-06-01\n"


@dataclass
class Screen:
    name: str
    image: Path
    bounds: tuple[int, int, int, int]  # the focused window: left, top, width, height
    text: list[str]  # lines known to be on it


def browser_page(folder: Path, chat: list[str] = CHAT, name: str = "browser", size: tuple[int, int] = SIZE) -> Screen:
    rows = "".join(
        "<tr>" + "".join(f"<td style='padding:6px 14px;border-bottom:1px solid #ddd'>{c}</td>" for c in row) + "</tr>"
        for row in TABLE
    )
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in PAGE_TEXT[1:])
    chat_html = "".join(f"<p>{html.escape(line)}</p>" for line in chat)
    left, top, width, height = BROWSER
    markup = f"""<!doctype html><html><body style="margin:0;width:{size[0]}px;height:{size[1]}px;background:#3b4252;
font-family:'DejaVu Sans',sans-serif">
<div style="position:absolute;left:{left}px;top:{top}px;width:{width}px;height:{height}px;background:#fff;
color:#202124">
<div style="height:36px;background:#dee1e6;border-bottom:1px solid #bbb;padding:8px 12px;font-size:13px">
https://wiki.example.org/planning</div>
<div style="padding:16px 24px;font-size:14px"><h2>{PAGE_TEXT[0]}</h2>{paragraphs}
<table style="border-collapse:collapse;font-size:13px">{rows}</table></div></div>
<div style="position:absolute;left:960px;top:60px;width:290px;height:400px;background:#f4f4f4;color:#333;
font-size:13px;padding:10px;border:1px solid #999">{chat_html}</div></body></html>"""
    source, out = folder / f"{name}.html", folder / f"{name}.png"
    source.write_text(markup)
    subprocess.run(
        [
            shutil.which("chromium") or "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={out}",
            source.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    text = PAGE_TEXT + [" ".join(row) for row in TABLE] + chat
    return Screen("browser page", out, BROWSER, text)


def desktop_screens(folder: Path, size: tuple[int, int] = SIZE) -> list[Screen]:
    """An xterm and a mousepad window side by side under Xvfb + openbox, each focused in turn."""
    import mss
    from PIL import Image

    sys.path.insert(0, str(ROOT))
    from tests.x11 import XServer

    screens = []
    with tempfile.TemporaryDirectory(prefix="notes-") as notes, XServer(*size) as xs:
        note = Path(notes) / "notes.txt"  # the title shows the path: short, and as long in every run
        note.write_text(EDITOR)
        term = xs.xterm("shell - ~/project", geometry="70x22+10+10", font_size=12)
        for command in TERMINAL:
            time.sleep(0.5)  # the prompt is back
            xs.xdotool("type", "--window", term, "--delay", "20", command + "\n")
        # as a person's editor runs: not as root (as root, Mousepad shows a warning bar)
        editor = xs.mousepad(note, Path(notes) / "home", user=65534 if os.geteuid() == 0 else None)
        xs.xdotool("windowsize", editor, "600", "420")
        xs.xdotool("windowmove", editor, "660", "330")
        for name, wid in (("terminal", term), ("editor", editor)):
            xs.focus(wid)
            time.sleep(1.0)  # let it draw
            geometry = dict(
                line.split("=", 1) for line in xs.xdotool("getwindowgeometry", "--shell", wid).split() if "=" in line
            )
            bounds = (int(geometry["X"]), int(geometry["Y"]), int(geometry["WIDTH"]), int(geometry["HEIGHT"]))
            with mss.MSS(display=xs.display) as grab:
                shot = grab.grab(grab.monitors[1])
            out = folder / f"{name}.png"
            Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX").save(out)
            text = TERMINAL + ["build finished at 14:30"] if name == "terminal" else EDITOR.splitlines()
            screens.append(Screen(name, out, bounds, text))
    return screens


def ordinary_screens(folder: Path, size: tuple[int, int] = SIZE) -> list[Screen]:
    """The three screens at `size` (text at its usual pixel size: a bigger screen shows more)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [browser_page(folder, size=size), *desktop_screens(folder, size)]


def session_of(screens: list[Screen], folder: Path) -> Path:
    """A recorded session (session format) showing each screen in turn: its window focused, a
    click into it, the screen after."""
    sys.path.insert(0, str(ROOT / "tests"))
    from session_files import SessionFiles

    rec = SessionFiles(folder, size=SIZE)
    for i, screen in enumerate(screens):
        t = 20.0 * i
        rec.event(t, "window", title=f"{screen.name} - app", app=screen.name.split()[0], bounds=list(screen.bounds))
        rec.add_frame(t + 0.2, screen.image, "window")
        left, top, width, height = screen.bounds
        rec.click(t + 1.0, left + width // 2, top + height // 2)
        rec.add_frame(t + 1.5, screen.image)
    return rec.save()
