#!/usr/bin/env python3
"""How well the result-noise rule (toolbox/ocr_engines/words.py: `is_noise`) tells OCR garbage
from words, measured on OCR of real screens with known text.

Screens: real apps on a private Xvfb (openbox): xterm (dark and light, 10-13 px monospace) showing
a known file and a prompt with its block cursor, mousepad (small and default font) with a known
file, and chromium (--app) with a page of a list, a table and paragraphs at 12-14 px; plus the
frames of the bundled sample session (xterms). Each screen's focused window is read by the
default OCR engine (tesseract, as interval_episodes reads it).

A read token is a *word* when it is, after trimming punctuation, a token of the screen's known
text (the file, the page, the commands typed, the app's menus and title), *misread* when it is
one edit away from one (4+ letters), else *noise*. The rule should flag noise (recall) and little
else (precision; misreads are reported apart: they carry most of a word).

    python bench/noise_bench.py            # writes bench/RESULTS-noise.md
    python bench/noise_bench.py --rescore  # the same from the tokens read last time (bench/_work/noise)
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.x11 import XServer, wait_for  # noqa: E402
from toolbox.activity.session_frames import session_frames  # noqa: E402
from toolbox.core.session import read_session  # noqa: E402
from toolbox.ocr_engines.runner import OcrRequest, OcrRunner, OcrSettings  # noqa: E402
from toolbox.ocr_engines.words import MIN_RESULT_CONF, OcrWord, garbled, is_noise  # noqa: E402

WORK = ROOT / "bench" / "_work" / "noise"

PROSE = """Dear Maria, thanks for the quick reply about the quarterly report.
The shipment 4417-B left the warehouse on Tuesday and should arrive by Friday.
Please check invoice INV-20931 against order PO-7781 before you approve it.
Our meeting moved to 3:30 pm in room C-204; bring the draft budget (v2).
Totals: revenue $18,240.50, costs $12,903.75, margin 29.3% for March.
The caravan left the station at nine, running late because of the storm.
Contact: dana.lee@example.com or +1 415 555 0199 for the build server.
def parse_row(line: str) -> dict[str, int]:
    return {key: int(value) for key, value in pairs(line)}
git commit -m "Fix the retry loop in fetch_batch()" && git push origin main
/var/log/nginx/access.log rotated at 02:00, 3 files kept, 1.2 GB freed."""

LIST_ROWS = [
    ("run-0042", "llama-7b", "finished", "1.73"),
    ("run-0043", "mistral-7b", "failed", "-"),
    ("run-0044", "llama-13b", "queued", "-"),
    ("run-0045", "qwen-1.5b", "finished", "2.05"),
    ("run-0046", "llama-7b", "running", "1.91"),
    ("run-0047", "phi-2", "finished", "2.48"),
]

PAGE = f"""<!doctype html><html><head><title>Experiment runs</title><style>
body {{ font-family: DejaVu Sans, sans-serif; margin: 16px; }}
h1 {{ font-size: 18px; }} p {{ font-size: 13px; max-width: 640px; }}
td, th {{ font-size: 12px; padding: 2px 10px; text-align: left; }}
li {{ font-size: 14px; }} .small {{ font-size: 12px; color: #555; }}
</style></head><body>
<h1>Experiment runs</h1>
<p>Filter the table by model name, or open a run to see its loss curve and the checkpoint it wrote.</p>
<table><tr><th>Run</th><th>Model</th><th>Status</th><th>Loss</th></tr>
{"".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td><td>{d}</td></tr>" for a, b, c, d in LIST_ROWS)}
</table>
<ul><li>Export CSV</li><li>Compare selected runs</li><li>Archive failed runs</li></ul>
<p class="small">Last synced 14:05 by dana.lee, 6 runs shown of 6. Retention policy: 90 days.</p>
<p>{PROSE.splitlines()[1]} {PROSE.splitlines()[2]}</p>
</body></html>"""

RECORDED_SCALE = 0.75
CHROMIUM_UI = "Sign in to Chromium?"
# the menus, the title and the info bar mousepad shows when run as root (as in this container)
MOUSEPAD_UI = (
    "File Edit Search View Document Help notes.txt Mousepad Warning: you are using the root account. "
    "You may harm your system."
)


def tokens(text: str) -> list[str]:
    return [t for t in (trim(w) for w in text.split()) if t]


def trim(word: str) -> str:
    return word.strip(".,;:!?\"'()[]{}<>`*").casefold()


def label(word: str, vocab: set[str]) -> str:
    t = trim(word)
    if not t or t in vocab:
        return "word"
    if len(t) >= 4 and any(Levenshtein.distance(t, v, score_cutoff=1) <= 1 for v in vocab):
        return "misread"
    # joined or split tokens (a path read without its slash, "hello.txt" as "hello." "txt")
    if any(t in v or v in t for v in vocab if len(v) >= 4 and len(t) >= 3):
        return "word"
    return "noise"


def shoot(xs: XServer, path: Path) -> None:
    import mss
    from PIL import Image

    with mss.MSS(display=xs.display) as grabber:
        shot = grabber.grab(grabber.monitors[1])
        Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX").save(path)


def as_recorded(path: Path, scale: float = RECORDED_SCALE) -> Path:
    """The screenshot as record.py stores it by default: gray, 0.75 of the screen, WebP quality 50."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("L").resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
    out = path.with_suffix(".webp")
    small.save(out, "WEBP", quality=50, method=2)
    return out


def window_region(xs: XServer, wid: str) -> tuple[int, int, int, int]:
    geo = dict(
        line.split("=", 1) for line in xs.run("xdotool", "getwindowgeometry", "--shell", wid).split() if "=" in line
    )
    x, y, w, h = (int(geo[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    return (x, y, x + w, y + h)


def real_screens(work: Path) -> list[tuple[str, Path, tuple[int, int, int, int], str]]:
    """(name, screenshot, window box, known text) for each real app screen."""
    out = []
    text_file = work / "notes.txt"
    text_file.write_text(PROSE + "\n")
    page = work / "runs.html"
    page.write_text(PAGE)
    with XServer(1280, 800) as xs:
        for name, size, colors in (("xterm-dark-10", 10, ()), ("xterm-light-12", 12, ("-bg", "white", "-fg", "black"))):
            wid = xs.xterm(name, geometry="110x24+20+20", font_size=size, extra=colors)
            xs.xdotool("type", "--window", wid, f"cat {text_file}\n")
            time.sleep(1.0)
            shot = work / f"{name}.png"
            shoot(xs, shot)
            out.append((name, shot, window_region(xs, wid), PROSE + f" $ cat {text_file} {name}"))
            xs.xdotool("windowkill", wid)
        for name, font in (("mousepad-small", "Monospace 9"), ("mousepad-default", "Monospace 11")):
            for key, value in (("use-default-monospace-font", "false"), ("font-name", font)):
                subprocess.run(
                    ["gsettings", "set", "org.xfce.mousepad.preferences.view", key, value],
                    env=xs.env,
                    check=True,
                    capture_output=True,
                )
            xs.spawn(["mousepad", str(text_file)])
            wid = wait_for(
                lambda: xs.run("xdotool", "search", "--name", "Mousepad", check=False).split(), what="mousepad"
            )[-1]
            time.sleep(1.0)
            xs.xdotool("windowsize", "--sync", wid, "1000", "600")
            xs.xdotool("windowmove", "--sync", wid, "40", "40")
            time.sleep(1.0)
            shot = work / f"{name}.png"
            shoot(xs, shot)
            out.append((name, shot, window_region(xs, wid), PROSE + " " + MOUSEPAD_UI + f" {text_file}"))
            xs.run("pkill", "-x", "mousepad", check=False)
            time.sleep(0.5)
        known = (
            re.sub(r"<[^>]+>", " ", PAGE.split("<body>")[1]) + f" Experiment runs file://{page} {page} {CHROMIUM_UI}"
        )
        for name, mode in (("chromium-app", [f"--app=file://{page}"]), ("chromium-window", [f"file://{page}"])):
            browser = xs.spawn(
                [
                    "chromium",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--no-default-browser-check",
                    f"--user-data-dir={work / name}",
                    "--test-type",
                    "--window-size=1000,700",
                    "--window-position=30,30",
                    *mode,
                ]
            )
            wid = wait_for(
                lambda: xs.run("xdotool", "search", "--name", "Experiment runs", check=False).split(),
                timeout=60,
                what="chromium",
            )[-1]
            time.sleep(3.0)
            shot = work / f"{name}.png"
            shoot(xs, shot)
            out.append((name, shot, window_region(xs, wid), known))
            browser.terminate()
            browser.wait(10)
            time.sleep(1.0)
    return out


DEMO_TEXT = """~/project# mkdir -p greetings && cd greetings ~/project/greetings# echo "Hello, world" > hello.txt
cat hello.txt Hello, world ls -l total 4 -rw-r--r-- 1 root root 13 Nov 24 05:15 hello.txt wc -c
greetings/hello.txt says: Hello, world notes.txt cat shell ~/project hlel"""


def read_all(items: list[tuple[str, str, tuple[int, int, int, int] | None]], cache: Path) -> dict[str, list[OcrWord]]:
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1, reuse=False), cache_dir=cache)
    requests = {name: OcrRequest(path, region) for name, path, region in items}
    results = runner.read(list(requests.values()), print)
    return {name: results[req] or [] for name, req in requests.items()}


def main() -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    if "--rescore" in sys.argv:
        write_results(json.loads((WORK / "tokens.json").read_text()))
        return 0
    with tempfile.TemporaryDirectory(prefix="noise-") as tmp:
        os.environ["GSETTINGS_BACKEND"] = "keyfile"  # mousepad's font, set without a session bus
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        screens = real_screens(Path(tmp))
        for _, shot, _, _ in screens:  # kept to look at
            (WORK / shot.name).write_bytes(shot.read_bytes())
        items, known = [], {}
        for name, path, box, text in screens:
            scaled = tuple(round(v * RECORDED_SCALE) for v in box)
            items += [(f"{name}/full", str(path), box), (f"{name}/recorded", str(as_recorded(path)), scaled)]
            known[f"{name}/full"] = known[f"{name}/recorded"] = text
        demo = read_session(next((ROOT / "examples" / "sessions").iterdir()))
        frames, _ = session_frames(demo)
        for ref in frames.refs:
            region = frames.regions.get(ref.path)
            copy = Path(tmp) / f"demo-{Path(ref.path).stem}.png"
            copy.write_bytes(Path(ref.path).read_bytes())
            scaled = tuple(round(v * RECORDED_SCALE) for v in region) if region else None
            for kind, path, box in (("full", ref.path, region), ("recorded", str(as_recorded(copy)), scaled)):
                name = f"demo/{kind}/{Path(ref.path).name}"
                items.append((name, path, box))
                known[name] = DEMO_TEXT
        words = read_all(items, Path(tmp) / "cache")
    rows = []
    for name, read in words.items():
        vocab = set(tokens(known[name]))
        for w in read:
            rows.append({"screen": name, "text": w.text, "conf": w.conf, "label": label(w.text, vocab)})
    (WORK / "tokens.json").write_text(json.dumps(rows, indent=0))
    write_results(rows)
    return 0


def scores(rows: list[dict], flag) -> tuple[float, float, float, int]:
    flagged = [r for r in rows if flag(r)]
    noise = [r for r in rows if r["label"] == "noise"]
    hit = sum(r["label"] == "noise" for r in flagged)
    precision = hit / len(flagged) if flagged else 1.0
    recall = hit / len(noise) if noise else 1.0
    words_lost = sum(r["label"] == "word" for r in flagged) / max(1, sum(r["label"] == "word" for r in rows))
    return precision, recall, words_lost, len(flagged)


def word_of(row: dict) -> OcrWord:
    return OcrWord(text=row["text"], box=(0, 0, 1, 1), conf=row["conf"], mid=(0, 0))


def group(screen: str) -> str:
    """demo/recorded/000004.webp -> demo/recorded"""
    return "/".join(screen.split("/")[:2])


def write_results(rows: list[dict]) -> None:
    counts = Counter(r["label"] for r in rows)
    by_screen = Counter((group(r["screen"]), r["label"]) for r in rows)
    screens = sorted({group(r["screen"]) for r in rows})
    lines = [
        "# Result noise rule (bench/noise_bench.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {open('/proc/loadavg').read().split()[:3]}.",
        "",
        f"{len(rows)} tokens read by tesseract (default settings) from the focused window of real app screens "
        f"(xterm 10/12 px, mousepad 9/11 pt, chromium 12-14 px) and of the sample session's frames: "
        f"{counts['word']} words, {counts['misread']} misread (one edit off), {counts['noise']} noise.",
        "",
        "| screen | words | misread | noise |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {s} | {by_screen[s, 'word']} | {by_screen[s, 'misread']} | {by_screen[s, 'noise']} |" for s in screens),
        "",
        "Flagging noise (precision: share of flagged tokens that are noise; recall: share of noise flagged; "
        "words lost: share of true words flagged):",
        "",
        "| rule | flagged | precision | recall | words lost | noise share left |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    candidates = {
        **{f"confidence < {c} only": (lambda r, c=c: r["conf"] < c) for c in (0.35, 0.4, 0.5, 0.6)},
        "garbled only": lambda r: garbled(r["text"]),
        **{f"garbled or confidence < {c}": (lambda r, c=c: garbled(r["text"]) or r["conf"] < c) for c in (0.4, 0.5)},
        f"is_noise (confidence < {MIN_RESULT_CONF}, or garbled once a cursor glyph at its edge is cut off)": lambda r: (
            is_noise(word_of(r))
        ),
    }
    for name, flag in candidates.items():
        p, rc, lost, n = scores(rows, flag)
        kept = [r for r in rows if not flag(r)]
        left = sum(r["label"] == "noise" for r in kept) / max(1, len(kept))
        lines.append(f"| {name} | {n} | {p:.2f} | {rc:.2f} | {lost:.3f} | {left:.3f} |")
    noise_share = counts["noise"] / max(1, len(rows))
    worst = max(screens, key=lambda g: by_screen[g, "noise"])
    rest = [r for r in rows if group(r["screen"]) != worst]
    rest_kept = [r for r in rest if not is_noise(word_of(r))]
    lines += [
        "",
        f"Noise share before any rule: {noise_share:.3f}. Without the worst screen ({worst}, "
        f"{by_screen[worst, 'noise']} noise tokens: text too small for OCR once stored at "
        f"{RECORDED_SCALE} scale; record small fonts with `--scale 1`): "
        f"{sum(r['label'] == 'noise' for r in rest) / max(1, len(rest)):.3f} before, "
        f"{sum(r['label'] == 'noise' for r in rest_kept) / max(1, len(rest_kept)):.3f} after the rule.",
        "",
    ]
    missed = Counter(r["text"] for r in rows if r["label"] == "noise" and not is_noise(word_of(r)))
    lost = Counter(r["text"] for r in rows if r["label"] == "word" and is_noise(word_of(r)))
    lines.append("Noise the rule keeps (most common): " + ", ".join(f"`{t}`" for t, _ in missed.most_common(25)))
    lines.append("")
    lines.append("Words the rule drops: " + (", ".join(f"`{t}`" for t, _ in lost.most_common(25)) or "none"))
    lines.append("")
    (ROOT / "bench" / "RESULTS-noise.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
