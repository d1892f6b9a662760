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
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


VISIBLE_LINES = 30


class Screen:
    """What each window shows: lines of text that actions change, from `top` (None: the last
    lines, as a terminal or a page just opened shows them)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines = {app: [self.sentence() for _ in range(20)] for app in WINDOWS}
        self.top: dict[str, int | None] = {app: None for app in WINDOWS}
        self.focus = "xterm"

    def visible(self, app: str) -> list[str]:
        top = self.top[app]
        return self.lines[app][-VISIBLE_LINES:] if top is None else self.lines[app][top : top + VISIBLE_LINES]

    def scroll(self, lines: int) -> None:
        """Scroll the focused window by `lines` (down if positive); new lines load at the end."""
        app = self.focus
        text = self.lines[app]
        top = self.top[app] if self.top[app] is not None else max(0, len(text) - VISIBLE_LINES)
        top = max(0, top + lines)
        while top + VISIBLE_LINES > len(text):
            text.append(self.sentence())
        self.top[app] = top

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
            for i, line in enumerate(self.visible(app)):
                draw.text(
                    (left + 16, top + 44 + i * 24),
                    line,
                    fill=(230, 230, 230) if dark else (20, 20, 20),
                    font=MONO if dark else FONT,
                )
        draw.polygon([pointer, (pointer[0] + 10, pointer[1] + 14), (pointer[0] + 3, pointer[1] + 14)], fill="white")
        image.save(path, "WEBP", quality=80)


PROFILES = {  # action group weights: click, type, scroll, switch
    "mixed": [4, 4, 2, 1],
    "scroll": [2, 2, 6, 1],
}


def make_session(
    root: Path, minutes: int, seed: int = 0, frames_per_hour: int | None = None, profile: str = "mixed"
) -> Path:
    rng = random.Random(seed)
    folder = root / "20260101T000000Z-bench"
    made = folder / ".made"
    signature = f"{minutes} {seed}" + (f" {frames_per_hour} {profile}" if frames_per_hour or profile != "mixed" else "")
    if made.is_file() and made.read_text() == signature:
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
    group_seconds = 7200 / frames_per_hour if frames_per_hour else None  # two frames a group
    busy, groups = 0.0, 0  # seconds of the groups so far spent acting (not thinking)
    while t < minutes * 60:
        if group_seconds is None:
            t += rng.uniform(2.0, 8.0)
        else:  # think for what is left of the group's share once the average action time is taken
            think = max(0.2, group_seconds - (busy / groups if groups else 1.5))
            t += rng.uniform(0.5 * think, 1.5 * think)
        acting = t
        left, top, width, height = WINDOWS[screen.focus][1]
        for _ in range(rng.randint(5, 30)):  # the pointer wanders
            pointer = (
                min(SCREEN[0] - 20, max(0, pointer[0] + rng.randint(-40, 40))),
                min(SCREEN[1] - 20, max(0, pointer[1] + rng.randint(-30, 30))),
            )
            events.append({"t": t0 + t, "type": "mouse_move", "x": pointer[0], "y": pointer[1]})
            t += 0.03
        kind = rng.choices(["click", "type", "scroll", "switch"], weights=PROFILES[profile])[0]
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
            screen.top[screen.focus] = None
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
            screen.top[screen.focus] = None
            if rng.random() < 0.6:
                events.append({"t": t0 + t, "type": "key", "key": "enter", "char": "\n", "pressed": True})
                screen.lines[screen.focus] += [screen.sentence() for _ in range(rng.randint(1, 4))]
                t += 0.1
        elif kind == "scroll" and profile == "scroll":  # 1-5 notches of 3 lines, down or (less often) up
            notches = rng.randint(1, 5) * (1 if rng.random() < 0.7 else -1)
            for _ in range(abs(notches)):
                events.append(
                    {
                        "t": t0 + t,
                        "type": "scroll",
                        "x": pointer[0],
                        "y": pointer[1],
                        "dx": 0,
                        "dy": -notches // abs(notches),
                    }
                )
                t += 0.05
            screen.scroll(3 * notches)
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
        busy, groups = busy + t - acting, groups + 1
    (folder / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    made.write_text(signature)
    return folder


# One build in a fresh process, with the code of `code` (this tree, or an earlier checkout): the
# task's defaults but for the engine, workers and reuse; prints wall seconds, episodes and OCR counts,
# and writes the episodes (JSON lines) so that two versions can be compared.
BUILD = """
import json, sys, time
start = time.perf_counter()
args = json.loads(sys.argv[1])
sys.path.insert(0, args["code"])
from pathlib import Path
from toolbox.core.config import PluginRef
from toolbox.core.pipeline import instantiate
from toolbox.core.plugin import BuildContext
from toolbox.core.session import read_session
try:  # the garbage collector's setting for a build, where the code has one (build_data.py uses it)
    from toolbox.core.memory import collected_between_shards as gc_setting
except ImportError:
    try:
        from toolbox.core.memory import few_full_collections as gc_setting
    except ImportError:
        from contextlib import nullcontext as gc_setting
ctx = BuildContext(cache_dir=Path(args["cache"]))
task = instantiate("tasks", PluginRef.model_validate(args["options"]), "tasks[0]", ctx)
with gc_setting():
    episodes = list(task.run(read_session(Path(args["session"]))))
ocr = dict(ctx.stats.extra.get("ocr", {}))
ocr["partial"] = task._ocr.stats.partial if getattr(task, "_ocr", None) else 0
with open(args["episodes"], "w") as f:
    for e in episodes:
        f.write(e.model_dump_json() + "\\n")
print(json.dumps({"seconds": time.perf_counter() - start, "episodes": len(episodes), "ocr": ocr}))
try:  # the way build_data.py ends its process, where the code has one
    from toolbox.core.memory import exit_without_final_collection
except ImportError:
    pass
else:
    exit_without_final_collection(0)
"""


@dataclass
class Build:
    seconds: float  # wall clock of the whole process: start, imports, build
    cpu: float  # CPU of the process and all its children (pool workers, tesseract runs)
    episodes: int
    ocr: dict
    load: float  # load average (1 min) when it finished
    episodes_file: Path


def build(code: Path, folder: Path, cache: Path, options: dict, episodes_file: Path) -> Build:
    args = {"code": str(code), "cache": str(cache), "session": str(folder), "options": options}
    args["episodes"] = str(episodes_file)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", BUILD, json.dumps(args)], capture_output=True, text=True, cwd=code)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"build with {code} failed:\n{proc.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return Build(seconds, cpu, result["episodes"], result["ocr"], os.getloadavg()[0], episodes_file)


def same_episodes(a: Path, b: Path) -> str:
    """How many episodes two builds wrote alike (JSON lines compared in order)."""
    left, right = a.read_text().splitlines(), b.read_text().splitlines()
    same = sum(x == y for x, y in zip(left, right))
    return f"{same} of {max(len(left), len(right))} episodes identical"


def screen_words(episodes: Path) -> tuple[int, int]:
    """The words OCR found on the episodes' screens (each frame once) that are the bench's own
    words (its vocabulary, window titles, numbers) and those that are not (misreads): the session's
    text is known, so more of the first and fewer of the second is a better read."""
    vocabulary = set(WORDS) | {word for title, _ in WINDOWS.values() for word in title.split()}
    frames: dict[str, list[dict]] = {}
    for line in episodes.read_text().splitlines():
        frames.update(json.loads(line)["metadata"].get("screens", {}))
    words = [w["text"] for screen in frames.values() for w in screen]
    known = sum(w in vocabulary or (w.isdigit() and len(w) <= 4) for w in words)
    return known, len(words) - known


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
    parser.add_argument("--frames-per-hour", type=int, default=None, help="pace the action groups to this frame rate")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="mixed")
    parser.add_argument("--engine", default="tesseract")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-reuse", action="store_true", help="read every frame whole")
    parser.add_argument(
        "--check-reuse", type=int, default=0, metavar="N", help="compare reuse with whole reads on N frames"
    )
    parser.add_argument("--label", default="", help="what this row measures (written in the table)")
    parser.add_argument("--no-redact", action="store_true", help="turn the task's privacy redaction off")
    parser.add_argument("--before", type=Path, help="an earlier checkout, built in the same run for the ratio")
    parser.add_argument("--before-label", default="before")
    parser.add_argument("--no-write", action="store_true", help="print the rows only")
    args = parser.parse_args()
    started = time.perf_counter()
    work = WORK / f"{args.profile}-{args.frames_per_hour or 'default'}"
    folder = make_session(work, args.minutes, frames_per_hour=args.frames_per_hour, profile=args.profile)
    render_seconds = time.perf_counter() - started
    session = read_session(folder)
    n_frames = sum(1 for e in session.events if e.type == "frame")
    print(f"session: {len(session.events)} events, {n_frames} frames ({render_seconds:.0f} s to make)", flush=True)
    options = {"name": "interval_episodes", "ocr": args.engine, "ocr_workers": args.workers}
    options["ocr_reuse"] = not args.no_reuse
    if args.no_redact:
        options["redact"] = False  # the privacy pass (issue 6) off: the OCR side alone
    codes = [(args.label or "this version", ROOT)] + (
        [(args.before_label, args.before.resolve())] if args.before else []
    )
    builds: dict[str, tuple[Build, Build]] = {}
    for label, code in codes:  # cold builds first, one after the other, then the warm ones: closer loads
        cache = work / f"cache-{args.engine}-{len(builds)}"
        if cache.exists():
            shutil.rmtree(cache)
        load_start = os.getloadavg()[0]
        cold = build(code, folder, cache, options, work / f"episodes-{len(builds)}.jsonl")
        print(
            f"{label}: cold {cold.seconds:.1f} s ({cold.cpu:.0f} s CPU, load {load_start:.1f} -> {cold.load:.1f}), "
            f"{cold.episodes} episodes, ocr {cold.ocr}",
            flush=True,
        )
        builds[label] = (cold, cold)
    for label, code in codes:
        cache = work / f"cache-{args.engine}-{list(builds).index(label)}"
        warm = build(code, folder, cache, options, work / f"episodes-warm-{list(builds).index(label)}.jsonl")
        print(f"{label}: warm {warm.seconds:.1f} s (fresh process, load {warm.load:.1f})", flush=True)
        builds[label] = (builds[label][0], warm)
    session_name = f"{args.minutes} min, {n_frames} frames ({args.profile})"
    rows = []
    for label, (cold, warm) in builds.items():
        partial, near = cold.ocr.get("partial", 0), cold.ocr.get("near_duplicates", 0)
        rows.append(
            f"| {label} | {session_name} | {args.engine} | {args.workers} | {cold.episodes} | "
            f"{cold.ocr.get('read', 0) - partial} whole, {partial} bands, {near} near-dup"
            f"{', ' + str(cold.ocr['lines_reused']) + ' lines found again' if cold.ocr.get('lines_reused') else ''} | "
            f"{cold.seconds:.1f} s | {cold.cpu:.0f} s | {warm.seconds:.1f} s | {cold.load:.1f} / {warm.load:.1f} |"
        )
    notes = [f"Session ({session_name}): {len(session.events)} events."]
    if args.before:
        (new_cold, _), (old_cold, _) = builds.values()
        notes.append(
            f"Same run, {session_name}: cold {old_cold.seconds:.1f} s -> {new_cold.seconds:.1f} s "
            f"({old_cold.seconds / new_cold.seconds:.1f}x), CPU {old_cold.cpu:.0f} s -> {new_cold.cpu:.0f} s; "
            f"{same_episodes(old_cold.episodes_file, new_cold.episodes_file)}; screen words that are the "
            f"session's own (misread): {'{} ({})'.format(*screen_words(old_cold.episodes_file))} -> "
            f"{'{} ({})'.format(*screen_words(new_cold.episodes_file))}."
        )
    if args.check_reuse:
        notes.append(check_reuse(folder, args.engine, args.check_reuse) + ".")
    for line in rows + notes:
        print(line, flush=True)
    if not args.no_write:
        write_results(rows, notes)


def write_results(rows: list[str], notes: list[str]) -> None:
    """Add the rows to bench/RESULTS-interval.md (earlier rows and the hand-written notes stay)."""
    out = ROOT / "bench" / "RESULTS-interval.md"
    header = [
        "# interval_episodes benchmark (bench/interval_bench.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "the machine is shared,",
        "so the load average (1 min) at the end of the cold build and of the warm rebuild is given with each row.",
        "Synthetic session: 1920x1080 webp frames, the focused window 1200x800 with known bounds (read as a crop),",
        "action groups (click, typing with corrections, Enter, scroll, alt+tab), a `before` and an `after` frame",
        "per group. Cold = empty OCR cache; warm = the same build again. Each build is a fresh process (its wall",
        "clock includes Python's start and the imports); CPU counts the process and all its children.",
        "",
        "| code | session | engine | workers | episodes | OCR (cold) | cold build | cold CPU | warm rebuild "
        "| load (cold / warm) |",
        "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    text = out.read_text() if out.exists() else ""
    kept = [line for line in text.splitlines() if line.startswith("| ") and line.count("|") == rows[0].count("|")]
    kept = [line for line in kept if not line.startswith("| code |")]
    tail = text[text.index("\nNotes") :] if "\nNotes" in text else ""
    out.write_text("\n".join(header + kept + rows + [""] + notes) + "\n" + tail)


if __name__ == "__main__":
    main()
