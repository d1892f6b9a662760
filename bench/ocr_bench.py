#!/usr/bin/env python3
"""OCR accuracy and cost on Chromium screenshots of pages with known text.

Four pages (UI text of 12-14 px, a table, a terminal, and a light window with a dark sidebar and
a dark code block), each a 1280x800 "desktop" with the focused window (900x700 at 40,40) and a
second window beside it. Each engine setting reads the
full frame and the window crop; we score the window's words (word recall, character error rate)
and time seconds per frame, wall and CPU (one engine thread, as each pool worker runs; the CPU
time includes tesseract's processes and is far less sensitive to the load of a shared machine). Then the default
engines run through the runner's process pool on 1 and 2 workers for throughput.

    python bench/ocr_bench.py            # writes bench/RESULTS-ocr.md
    python bench/ocr_bench.py --only default,rapidocr    # only these settings, printed (not written)

The default reads through tesseract's library, loaded once per process; "by the command" is the
same engine run as a `tesseract` process per read (as before the library was used): the same
words, so the difference is the cost of a process start and a model load per read.
"""

from __future__ import annotations

import argparse
import html
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolbox.ocr_engines.runner import OcrRequest, OcrRunner, OcrSettings, make_engine, read_region  # noqa: E402

WORK = ROOT / "bench" / "_work" / "ocr"
WINDOW = (40, 40, 940, 740)  # the focused window on every page: x0, y0, x1, y1

UI_LINES = [
    ("h3", 16, "Project settings"),
    ("p", 13, "Name your project and choose who can see the results of each run."),
    ("label", 12, "Project name"),
    ("input", 13, "llama-finetune-march"),
    ("label", 12, "Visibility"),
    ("p", 13, "Private to the research team, shared with reviewers"),
    ("button", 13, "Save changes"),
    ("button", 13, "Cancel"),
    ("button", 13, "Delete project"),
    ("p", 12, "Last saved 3 minutes ago by Dana Whitfield."),
    ("p", 14, "Notifications: email me when a run fails or finishes early."),
    ("p", 12, "Storage used: 42.7 GB of 100 GB (quota resets on April 1)."),
]
TABLE_ROWS = [["Run", "Model", "Status", "Loss", "Tokens/s", "Started"]] + [
    [f"run-{n:04d}", model, status, f"{loss:.3f}", str(tps), f"2025-03-{day:02d} 1{n % 10}:0{n % 6}"]
    for n, model, status, loss, tps, day in [
        (1041, "llama-7b", "finished", 1.734, 5120, 3),
        (1042, "llama-13b", "failed", 2.415, 2870, 4),
        (1043, "mistral-7b", "running", 1.902, 4980, 5),
        (1044, "qwen-1.8b", "finished", 2.118, 9450, 6),
        (1045, "phi-2", "queued", 0.0, 0, 7),
        (1046, "gemma-2b", "finished", 1.877, 8010, 8),
        (1047, "llama-7b", "cancelled", 3.001, 5090, 9),
        (1048, "olmo-1b", "finished", 2.640, 11200, 10),
    ]
]
TERMINAL_LINES = [
    "$ python train.py --model llama-7b --epochs 3 --lr 2e-5",
    "loading dataset from data/train.jsonl (48213 rows)",
    "epoch 1/3 step 200 loss 2.1043 lr 1.9e-05",
    "epoch 1/3 step 400 loss 1.8827 lr 1.8e-05",
    "epoch 2/3 step 600 loss 1.7302 lr 1.6e-05",
    "saved checkpoint to runs/llama-7b/ckpt-600",
    "$ git status --short",
    " M toolbox/tasks/interval_episodes.py",
    "?? bench/ocr_bench.py",
    "$ ls -la runs/",
    "drwxr-xr-x  5 dana staff  160 Mar  4 10:12 llama-7b",
]
MIXED_SIDEBAR = ["Explorer", "train.py", "config.yaml", "README.md", "requirements.txt"]
MIXED_TEXT = [
    "Fine-tuning notes",
    "Run the trainer with a smaller learning rate first.",
    "Checkpoints go to runs/ and are pruned after a week.",
]
MIXED_CODE = ["def evaluate(model, batch):", "    loss = model(batch).mean()", "    return loss.item()"]
OTHER_WINDOW = ["Inbox (3)", "Weekly sync notes", "Reminder: submit expenses", "Chat: are the runs done?"]


def page(body: str, dark: bool = False) -> str:
    other = "".join(f"<p>{html.escape(t)}</p>" for t in OTHER_WINDOW)
    bg, fg = ("#1e1e1e", "#e6e6e6") if dark else ("#ffffff", "#202124")
    return f"""<!doctype html><html><body style="margin:0;width:1280px;height:800px;background:#3b4252;font-family:'DejaVu Sans',sans-serif">
<div style="position:absolute;left:{WINDOW[0]}px;top:{WINDOW[1]}px;width:{WINDOW[2] - WINDOW[0]}px;height:{WINDOW[3] - WINDOW[1]}px;background:{bg};color:{fg};overflow:hidden">
<div style="padding:16px 20px">{body}</div></div>
<div style="position:absolute;left:960px;top:60px;width:290px;height:400px;background:#f4f4f4;color:#333;font-size:13px;padding:10px">{other}</div>
</body></html>"""


def ui_page() -> tuple[str, list[str]]:
    parts = []
    for tag, size, text in UI_LINES:
        t = html.escape(text)
        if tag == "input":
            parts.append(f'<div><input value="{t}" style="font-size:{size}px;width:320px;margin:4px 0 10px"></div>')
        elif tag == "button":
            parts.append(f'<button style="font-size:{size}px;margin:8px 8px 8px 0">{t}</button>')
        else:
            parts.append(
                f'<div style="font-size:{size}px;margin:6px 0;{"font-weight:bold" if tag == "h3" else ""}">{t}</div>'
            )
    return page("".join(parts)), [text for _, _, text in UI_LINES]


def table_page() -> tuple[str, list[str]]:
    rows = "".join(
        "<tr>"
        + "".join(f"<td style='padding:5px 10px;border-bottom:1px solid #ddd'>{html.escape(c)}</td>" for c in row)
        + "</tr>"
        for row in TABLE_ROWS
    )
    return page(f"<table style='font-size:13px;border-collapse:collapse'>{rows}</table>"), [
        " ".join(r) for r in TABLE_ROWS
    ]


def terminal_page() -> tuple[str, list[str]]:
    text = html.escape("\n".join(TERMINAL_LINES))
    body = (
        f"<pre style=\"font-family:'DejaVu Sans Mono',monospace;font-size:14px;line-height:1.35;margin:0\">{text}</pre>"
    )
    return page(body, dark=True), TERMINAL_LINES


def mixed_page() -> tuple[str, list[str]]:
    """A light editor window with a dark sidebar (13 px) and a dark code block (14 px): text of
    both polarities in one crop, as in most IDEs and documentation pages."""
    side = "".join(f"<div style='margin:4px 0'>{html.escape(t)}</div>" for t in MIXED_SIDEBAR)
    text = "".join(f"<div style='font-size:13px;margin:6px 0'>{html.escape(t)}</div>" for t in MIXED_TEXT)
    code = html.escape("\n".join(MIXED_CODE))
    body = (
        f"<div style='display:flex'><div style='width:180px;background:#252526;color:#cccccc;font-size:13px;padding:8px;height:640px'>{side}</div>"
        f"<div style='padding:0 20px'>{text}<pre style=\"background:#1e1e1e;color:#d4d4d4;padding:10px;font-size:14px;"
        f"font-family:'DejaVu Sans Mono',monospace\">{code}</pre></div></div>"
    )
    return page(body), MIXED_SIDEBAR + MIXED_TEXT + MIXED_CODE


def screenshot(name: str, markup: str) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    source, out = WORK / f"{name}.html", WORK / f"{name}.png"
    source.write_text(markup)
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--window-size=1280,800",
            f"--screenshot={out}",
            source.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out


def words_of(lines: list[str]) -> list[str]:
    return [w for line in lines for w in line.split()]


def score(found: list[str], expected: list[str]) -> tuple[float, float]:
    """Word recall (multiset, exact after case folding) and a word-aligned character error rate:
    each expected word against its closest read word (edit distance), summed over all characters."""
    pool = [w.lower() for w in found]
    hits = 0
    for word in expected:
        if word.lower() in pool:
            pool.remove(word.lower())
            hits += 1
    lowered = [w.lower() for w in found]
    errors = 0
    for word in expected:
        best = min((Levenshtein.distance(word.lower(), f) for f in lowered), default=len(word))
        errors += min(best, len(word))
    return hits / len(expected), errors / sum(len(w) for w in expected)


DEFAULT = "tesseract (default: psm 11, x1.5, dark inverted)"
OLD = {"upscale": 2.0, "invert_dark": False}  # the earlier default's image handling
COMMAND = {"binary": shutil.which("tesseract") or "/usr/bin/tesseract"}  # a path, not the default name: the command
SETTINGS = [  # (label, engine, options, whole-region upscale)
    ("rapidocr (line crops x2)", "rapidocr", {}, 1.0),
    ("tesseract default, by the command (a process per read)", "tesseract", COMMAND, 1.0),
    ("rapidocr, plain 1x", "rapidocr", {"rec_upscale": 1.0, "crop_pad": 0.0}, 1.0),
    ("rapidocr, line crops x3", "rapidocr", {"rec_upscale": 3.0}, 1.0),
    (DEFAULT, "tesseract", {}, 1.0),
    ("tesseract psm 11, x2 (earlier default)", "tesseract", OLD, 1.0),
    ("tesseract psm 11, x2, dark inverted", "tesseract", {"upscale": 2.0}, 1.0),
    ("tesseract psm 11, x1.5", "tesseract", {"invert_dark": False}, 1.0),
    ("tesseract psm 11, x1.75, dark inverted", "tesseract", {"upscale": 1.75}, 1.0),
    ("tesseract psm 11, x1.25, dark inverted", "tesseract", {"upscale": 1.25}, 1.0),
    (
        "tesseract psm 11, x1.5, dark inverted, no per-line inversion",
        "tesseract",
        {"config": {"tessedit_do_invert": "0"}},
        1.0,
    ),
    ("tesseract psm 11, 1x", "tesseract", {**OLD, "upscale": 1.0}, 1.0),
    ("tesseract psm 11, x3", "tesseract", {**OLD, "upscale": 3.0}, 1.0),
    ("tesseract psm 3, 1x", "tesseract", {**OLD, "psm": 3, "upscale": 1.0}, 1.0),
    ("tesseract psm 3, x2", "tesseract", {**OLD, "psm": 3}, 1.0),
]


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (tesseract runs, pool workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated parts of the labels of the settings to run")
    only = [part for part in parser.parse_args().only.split(",") if part]
    settings = [s for s in SETTINGS if not only or any(part in s[0] for part in only)]
    pages = {"ui": ui_page(), "table": table_page(), "terminal": terminal_page(), "mixed": mixed_page()}
    shots = {name: (screenshot(name, markup), words_of(lines)) for name, (markup, lines) in pages.items()}
    rows = []
    misses: dict[str, list[str]] = {}
    for label, engine_name, options, scale in settings:
        engine = make_engine(engine_name, options, threads=1)
        read_region(engine, str(shots["ui"][0]), WINDOW, scale)  # warm up (model load)
        for region_name, region in (("full", None), ("window", WINDOW)):
            recalls, cers, seconds, cpus = [], [], [], []
            for name, (path, expected) in shots.items():
                start, cpu = time.perf_counter(), cpu_seconds()
                words = read_region(engine, str(path), region, scale)
                seconds.append(time.perf_counter() - start)
                cpus.append(cpu_seconds() - cpu)
                r, c = score([w.text for w in words], expected)
                recalls.append(r)
                cers.append(c)
                if region_name == "window":
                    found = [w.text.lower() for w in words]
                    misses.setdefault(label, []).extend(f"{name}:{w}" for w in expected if w.lower() not in found)
            n = len(shots)
            rows.append(
                (
                    label,
                    region_name,
                    sum(recalls) / n,
                    sum(cers) / n,
                    sum(seconds) / n,
                    sum(cpus) / n,
                    " / ".join(f"{r:.2f}" for r in recalls),
                )
            )
            print(
                f"{label:38s} {region_name:7s} recall {rows[-1][2]:.3f} cer {rows[-1][3]:.3f} {rows[-1][4]:.2f} s/frame"
                f" {rows[-1][5]:.2f} s CPU load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    # Throughput of the default through the pool: 12 distinct frames (4 copies of each page, a pixel changed).
    from PIL import Image

    frames = []
    for i in range(3):
        for name, (path, _) in shots.items():
            image = Image.open(path).convert("RGB")
            image.putpixel((5 + i, 5), (i * 60, 0, 0))
            out = WORK / f"pool_{name}_{i}.png"
            image.save(out)
            frames.append(OcrRequest(str(out), WINDOW))
    pool = {}
    for label, engine_name, options in (
        ("tesseract (default)", "tesseract", {}),
        ("tesseract (default) by the command", "tesseract", COMMAND),
        ("tesseract, earlier default (x2)", "tesseract", OLD),
        ("rapidocr", "rapidocr", {}),
    ):
        for workers in (1, 2):
            runner = OcrRunner(
                OcrSettings(engine=engine_name, engine_options=options, workers=workers, reuse=False, progress=False),
                cache_dir=None,
            )
            start, cpu = time.perf_counter(), cpu_seconds()
            runner.read(frames, print)
            pool[(label, workers)] = (
                (time.perf_counter() - start) / len(frames),
                (cpu_seconds() - cpu) / len(frames),
                os.getloadavg()[0],
            )
            print(f"pool {label} workers={workers}: {pool[(label, workers)]}", flush=True)
    if not only:  # a subset is printed only
        write_results(rows, misses, pool)


def write_results(rows, misses, pool) -> None:
    load = os.getloadavg()
    lines = [
        "# OCR benchmark (bench/ocr_bench.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared with other jobs: timings are noisy).",
        "Pages: Chromium (headless) screenshots at 1280x800; UI text 12-16 px, a 13 px table, a 14 px terminal,",
        "a mixed page (light window, dark 13 px sidebar, dark 14 px code block);",
        "each page has the focused window (900x700) and a second window beside it. Scores count the focused",
        "window's words only (so reading the other window does not hurt the full-frame rows, it only costs time).",
        "Word recall: expected words found exactly (case-folded, as a multiset). CER: each expected word against",
        "its closest read word, edit distance summed over all expected characters. Seconds: one engine thread,",
        "as each pool worker runs; wall clock and CPU (this process and its tesseract processes).",
        "",
        "| setting | region | word recall | CER | s/frame (1 thread, wall) | CPU s/frame | recall ui / table / terminal / mixed |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, region, recall, cer, seconds, cpu, per_page in rows:
        lines.append(f"| {label} | {region} | {recall:.3f} | {cer:.3f} | {seconds:.2f} | {cpu:.2f} | {per_page} |")
    lines += [
        "",
        "Throughput through the runner (window crop, every frame read whole), 12 distinct frames, wall clock"
        " including engine and pool start-up; CPU of all processes; load average (1 min) after each:",
        "",
    ]
    for (label, workers), (seconds, cpu, load) in pool.items():
        lines.append(
            f"- {label}, {workers} worker{'s' if workers > 1 else ''}: {seconds:.2f} s per frame wall, "
            f"{cpu:.2f} s CPU per frame (load {load:.1f})"
        )
    lines += ["", "Words rapidocr (line crops x2) missed on the window crop (page:word):", ""]
    default_misses = misses.get(SETTINGS[0][0], [])
    lines.append(", ".join(f"`{m}`" for m in default_misses) if default_misses else "none")
    lines += ["", f"Words the default, {DEFAULT}, missed on the window crop:", ""]
    t_misses = misses.get(DEFAULT, [])
    lines.append(
        ", ".join(f"`{m}`" for m in t_misses[:80]) + (" ..." if len(t_misses) > 80 else "") if t_misses else "none"
    )
    lines.append("")
    old = ROOT / "bench" / "RESULTS-ocr.md"
    text = old.read_text() if old.exists() else ""
    notes = text[text.index("\nNotes") :] if "\nNotes" in text else ""
    old.write_text("\n".join(lines) + notes)
    print("wrote bench/RESULTS-ocr.md")


if __name__ == "__main__":
    main()
