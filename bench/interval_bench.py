#!/usr/bin/env python3
"""A one-hour synthetic session (~700 frames) through the whole interval_episodes task: cold
build (empty OCR cache) and rebuild (warm cache).

The session: a person switching between a terminal, a browser and an editor (1920x1080 screen,
the focused window 1200x800 with known bounds), about one action group every 5 s: clicks that
open pages, typing bursts with corrections, Enter, scrolls, alt+tab. The recorder's frame
policy is imitated: a `before` frame at each action group and an `after` frame when it settles.

    python bench/interval_bench.py [--minutes 60] [--engine rapidocr] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolbox.core.config import PluginRef  # noqa: E402
from toolbox.core.pipeline import instantiate  # noqa: E402
from toolbox.core.plugin import BuildContext  # noqa: E402
from toolbox.core.session import read_session  # noqa: E402

WORK = ROOT / "bench" / "_work" / "interval"
FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 14)
MONO = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 14)
SCREEN = (1920, 1080)
WINDOWS = {  # app: (title, bounds)
    "xterm": ("dana@box: ~/llama", (100, 80, 1200, 800)),
    "chromium": ("Runs - Experiment tracker - Chromium", (360, 120, 1200, 800)),
    "gedit": ("notes.md - gedit", (600, 200, 1200, 800)),
}
WORDS = (
    "loss epoch run model token batch eval checkpoint dataset llama mistral learning rate warmup "
    "gradient accuracy finished failed queued report results table search export filter"
).split()


class Screen:
    """What each window shows: lines of text that actions change."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines = {app: [self.sentence() for _ in range(20)] for app in WINDOWS}
        self.focus = "xterm"

    def sentence(self, n: int = 6) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(n)) + f" {self.rng.randint(0, 9999)}"

    def render(self, path: Path, pointer: tuple[int, int]) -> None:
        image = Image.new("RGB", SCREEN, (59, 66, 82))
        draw = ImageDraw.Draw(image)
        for app in [a for a in WINDOWS if a != self.focus] + [self.focus]:
            title, (left, top, width, height) = WINDOWS[app]
            dark = app == "xterm"
            draw.rectangle((left, top, left + width, top + height), fill=(30, 30, 30) if dark else (255, 255, 255))
            draw.rectangle((left, top, left + width, top + 28), fill=(200, 200, 205))
            draw.text((left + 10, top + 6), title, fill="black", font=FONT)
            for i, line in enumerate(self.lines[app][-30:]):
                draw.text(
                    (left + 16, top + 44 + i * 24),
                    line,
                    fill=(230, 230, 230) if dark else (20, 20, 20),
                    font=MONO if dark else FONT,
                )
        draw.polygon([pointer, (pointer[0] + 10, pointer[1] + 14), (pointer[0] + 3, pointer[1] + 14)], fill="white")
        image.save(path, "WEBP", quality=80)


def make_session(root: Path, minutes: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    folder = root / "20260101T000000Z-bench"
    made = folder / ".made"
    if made.is_file() and made.read_text() == f"{minutes} {seed}":
        return folder  # rendered before: the same session (seeded)
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "frames").mkdir(parents=True)
    t0 = 1767225600.0
    meta = {
        "schema_version": 1,
        "id": folder.name,
        "started_at": t0,
        "ended_at": t0 + minutes * 60,
        "platform": "linux",
        "monitors": [{"index": 0, "left": 0, "top": 0, "width": SCREEN[0], "height": SCREEN[1], "scale": 1.0}],
        "recorder": {"synthetic": True},
        "task": None,
    }
    (folder / "session.json").write_text(json.dumps(meta))
    screen = Screen(rng)
    events: list[dict] = []
    frames = 0
    t = 0.0
    pointer = (500, 500)

    def frame(reason: str) -> str:
        nonlocal frames
        file = f"frames/{frames:06d}.webp"
        frames += 1
        screen.render(folder / file, pointer)
        events.append(
            {
                "t": t0 + t,
                "type": "frame",
                "file": file,
                "monitor": 0,
                "width": SCREEN[0],
                "height": SCREEN[1],
                "reason": reason,
                "hash": str(frames),
            }
        )
        return file

    def window() -> None:
        title, bounds = WINDOWS[screen.focus]
        events.append({"t": t0 + t, "type": "window", "title": title, "app": screen.focus, "bounds": list(bounds)})

    window()
    frame("start")
    while t < minutes * 60:
        t += rng.uniform(2.0, 8.0)
        left, top, width, height = WINDOWS[screen.focus][1]
        for _ in range(rng.randint(5, 30)):  # the pointer wanders
            pointer = (
                min(SCREEN[0] - 20, max(0, pointer[0] + rng.randint(-40, 40))),
                min(SCREEN[1] - 20, max(0, pointer[1] + rng.randint(-30, 30))),
            )
            events.append({"t": t0 + t, "type": "mouse_move", "x": pointer[0], "y": pointer[1]})
            t += 0.03
        kind = rng.choices(["click", "type", "scroll", "switch"], weights=[4, 4, 2, 1])[0]
        before = frame("before")
        if kind == "click":
            pointer = (left + rng.randint(20, width - 20), top + 44 + 24 * rng.randint(0, 20) + 8)
            events.append(
                {
                    "t": t0 + t,
                    "type": "click",
                    "x": pointer[0],
                    "y": pointer[1],
                    "button": "left",
                    "pressed": True,
                    "frame_before": before,
                }
            )
            t += 0.08
            events.append(
                {"t": t0 + t, "type": "click", "x": pointer[0], "y": pointer[1], "button": "left", "pressed": False}
            )
            screen.lines[screen.focus] += [screen.sentence() for _ in range(rng.randint(1, 12))]  # a page opens
        elif kind == "type":
            text = screen.sentence(rng.randint(2, 6))
            typed = ""
            for ch in text:
                if rng.random() < 0.05:
                    events.append({"t": t0 + t, "type": "key", "key": "x", "char": "x", "pressed": True})
                    events.append(
                        {"t": t0 + t + 0.03, "type": "key", "key": "backspace", "char": None, "pressed": True}
                    )
                    t += 0.1
                key = "space" if ch == " " else ch
                events.append({"t": t0 + t, "type": "key", "key": key, "char": ch, "pressed": True})
                events.append({"t": t0 + t + 0.04, "type": "key", "key": key, "char": None, "pressed": False})
                t += rng.uniform(0.08, 0.2)
                typed += ch
            screen.lines[screen.focus][-1] = typed
            if rng.random() < 0.6:
                events.append({"t": t0 + t, "type": "key", "key": "enter", "char": "\n", "pressed": True})
                screen.lines[screen.focus] += [screen.sentence() for _ in range(rng.randint(1, 4))]
                t += 0.1
        elif kind == "scroll":
            for _ in range(rng.randint(2, 8)):
                events.append({"t": t0 + t, "type": "scroll", "x": pointer[0], "y": pointer[1], "dx": 0, "dy": -1})
                t += 0.05
            screen.lines[screen.focus] = screen.lines[screen.focus][3:] + [screen.sentence() for _ in range(3)]
        else:
            events.append({"t": t0 + t, "type": "key", "key": "alt_l", "char": None, "pressed": True})
            events.append({"t": t0 + t + 0.05, "type": "key", "key": "tab", "char": None, "pressed": True})
            events.append({"t": t0 + t + 0.1, "type": "key", "key": "tab", "char": None, "pressed": False})
            events.append({"t": t0 + t + 0.15, "type": "key", "key": "alt_l", "char": None, "pressed": False})
            t += 0.4
            screen.focus = rng.choice([a for a in WINDOWS if a != screen.focus])
            window()
        t += 0.5
        frame("after")
    (folder / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    made.write_text(f"{minutes} {seed}")
    return folder


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (pool workers, and their tesseract runs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def build(
    folder: Path, cache: Path, engine: str, workers: int, reuse: bool, redact: bool = True
) -> tuple[float, float, int, dict]:
    ctx = BuildContext(cache_dir=cache)
    options = {"name": "interval_episodes", "ocr": engine, "ocr_workers": workers, "ocr_reuse": reuse}
    if not redact:
        options["redact"] = False  # the privacy pass (issue 6) off: the OCR side alone
    ref = PluginRef.model_validate(options)
    start, cpu = time.perf_counter(), cpu_seconds()
    task = instantiate("tasks", ref, "tasks[0]", ctx)
    episodes = list(task.run(read_session(folder)))
    stats = dict(ctx.stats.extra.get("ocr", {}))
    if getattr(task, "_ocr", None) is not None:
        stats["partial"] = getattr(task._ocr.stats, "partial", 0)
    return time.perf_counter() - start, cpu_seconds() - cpu, len(episodes), stats


def check_reuse(folder: Path, engine: str, frames: int) -> str:
    """Words with reuse (near duplicates + changed bands) against every frame read whole, on the
    first `frames` frames: the share of whole-read words (multiset, per frame) the reuse also has."""
    from collections import Counter

    from toolbox.activity.session_frames import session_frames
    from toolbox.ocr_engines.runner import OcrRequest, OcrRunner, OcrSettings

    found, _ = session_frames(read_session(folder), "window")
    requests = [OcrRequest(r.path, found.regions.get(r.path)) for r in found.refs[:frames]]
    reuse = OcrRunner(OcrSettings(engine=engine, workers=2, progress=False), cache_dir=None)
    reused = reuse.read(requests, print)
    whole = OcrRunner(OcrSettings(engine=engine, workers=2, reuse=False, progress=False), cache_dir=None).read(
        requests, print
    )
    total = kept = 0
    frames_missing = 0
    for request in requests:
        want, got = Counter(w.text for w in whole[request] or []), Counter(w.text for w in reused[request] or [])
        total += sum(want.values())
        kept += sum((want & got).values())
        frames_missing += bool(want - got)
    s = reuse.stats
    return (
        f"reuse check, first {len(requests)} frames ({s.read - s.partial} read whole, {s.partial} in bands, "
        f"{s.near_duplicates} near duplicates): {kept / max(total, 1):.3f} of the words of whole reads are in the "
        f"reused words; {frames_missing} frames differ in at least one word"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--engine", default="tesseract")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-reuse", action="store_true", help="read every frame whole")
    parser.add_argument(
        "--check-reuse", type=int, default=0, metavar="N", help="compare reuse with whole reads on N frames"
    )
    parser.add_argument("--label", default="", help="what this row measures (written in the table)")
    parser.add_argument("--no-redact", action="store_true", help="turn the task's privacy redaction off")
    args = parser.parse_args()
    started = time.perf_counter()
    folder = make_session(WORK, args.minutes)
    render_seconds = time.perf_counter() - started
    session = read_session(folder)
    n_frames = sum(1 for e in session.events if e.type == "frame")
    print(f"session: {len(session.events)} events, {n_frames} frames ({render_seconds:.0f} s to make)", flush=True)
    cache = WORK / f"cache-{args.engine}"
    if cache.exists():
        shutil.rmtree(cache)
    load_start = os.getloadavg()[0]
    cold, cold_cpu, episodes, ocr_cold = build(
        folder, cache, args.engine, args.workers, not args.no_reuse, not args.no_redact
    )
    print(f"cold: {cold:.1f} s ({cold_cpu:.0f} s CPU), {episodes} episodes, ocr {ocr_cold}", flush=True)
    load_cold = os.getloadavg()[0]
    warm, _, episodes_warm, ocr_warm = build(
        folder, cache, args.engine, args.workers, not args.no_reuse, not args.no_redact
    )
    print(f"warm: {warm:.1f} s, {episodes_warm} episodes, ocr {ocr_warm}", flush=True)
    actions = sum(1 for e in session.events if e.type in ("click", "key", "scroll"))
    partial = ocr_cold.get("partial", 0)
    result = (
        f"| {args.label or 'this version'} | {args.minutes} min | {args.engine} | {args.workers} | {n_frames} | {episodes} | "
        f"{ocr_cold.get('read', 0) - partial} whole, {partial} bands, {ocr_cold.get('near_duplicates', 0)} near-dup | "
        f"{cold:.1f} s | {cold_cpu:.0f} s | {warm:.1f} s | {load_start:.1f} / {load_cold:.1f} |"
    )
    out = ROOT / "bench" / "RESULTS-interval.md"
    header = [
        "# interval_episodes benchmark (bench/interval_bench.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; the machine is shared,",
        "so the load average (1 min, at the end of the run) is given with each row.",
        "Synthetic session: 1920x1080 webp frames, the focused window 1200x800 with known bounds (read as a crop),",
        "one action group every 2-8 s (click, typing with corrections, Enter, scroll, alt+tab), a `before` and an",
        "`after` frame per group. Cold = empty OCR cache; warm = the same build again.",
        "",
        "| code | session | engine | workers | frames | episodes | OCR (cold) | cold build | cold CPU | warm rebuild | load (start / end of cold) |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    rows = (
        [
            line
            for line in out.read_text().splitlines()
            if line.startswith("| ") and " min |" in line and line.count("|") == result.count("|")
        ]
        if out.exists()
        else []
    )
    notes = [f"Session: {len(session.events)} events, of which {actions} raw key/click/scroll events."]
    if args.check_reuse:
        notes.append(check_reuse(folder, args.engine, args.check_reuse) + ".")
        print(notes[-1], flush=True)
    text = out.read_text() if out.exists() else ""
    tail = text[text.index("\nNotes") :] if "\nNotes" in text else ""
    out.write_text("\n".join(header + rows + [result, ""] + notes) + "\n" + tail)
    print(result)


if __name__ == "__main__":
    main()
