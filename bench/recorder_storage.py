#!/usr/bin/env python3
"""Storage per hour of recorded frames at 1920x1080, and whether they stay OCR-legible.

How the hour is simulated (no person sits here for an hour): Chromium (headless) renders
realistic 1920x1080 screens of browser work: an issue tracker with a comment being typed, a
web mail being written, a search results page, each in several states as the text grows.
These are the exact pixels the recorder would grab. Each is encoded with the recorder's own
encoder (recorder.frames.FramePipeline.encode) under several settings.

The hour: a click every 5 s with typing in between = 720 cycles. The recorder's frame policy
stores at most 2 new frames per cycle (after the click, after the typing burst; the 'before'
frames are identical to the previous 'after' frame and are deduplicated; measured on the real
recorder in the Xvfb demo: 13 stored frames for 8 actions). So frames/hour = 1440 and
MB/hour = 1440 x mean frame size.

Legibility: tesseract word recall on each decoded frame (scaled frames are upscaled back to
1920x1080 first), against tesseract on the lossless original.

    python bench/recorder_storage.py ["webp q50 gray scale 0.75" ...]   # needs chromium and tesseract
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from recorder.frames import FramePipeline, _Job  # noqa: E402

W, H = 1920, 1080
FRAMES_PER_HOUR = 1440

PAGE = """<html><body style="font-family:'DejaVu Sans',sans-serif;margin:0;font-size:16px">
<div style="background:{bar};color:white;padding:12px 20px;font-size:20px">{app} &nbsp; <span style="font-size:15px">Home · Projects · Reports · Settings</span></div>
<div style="display:flex"><div style="width:250px;background:#f3f3f3;padding:14px;height:1000px;line-height:1.9">{side}</div>
<div style="padding:20px 28px;width:1500px">{body}
<div style="margin-top:14px;border:1px solid #999;width:1100px;min-height:120px;padding:10px;font-size:16px">{typed}<span style="border-left:2px solid black">&nbsp;</span></div>
<p style="color:#555">{filler}</p></div></div></body></html>"""

FILLER = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip."
)

SCREENS = [
    dict(
        bar="#2b579a",
        app="Project tracker",
        side="Inbox<br>Assigned to me<br>Created by me<br>Mentioned<br>Labels<br>bug<br>enhancement",
        body="<h2>Crash when saving a file with a comma in its name</h2><p>Steps: open the editor, create a file named "
        '"a,b.txt", press Ctrl+S. The application closes without an error message.</p>'
        "<table border=1 cellpadding=6 style='border-collapse:collapse'><tr><th>#</th><th>Title</th><th>Status</th></tr>"
        "<tr><td>101</td><td>Login page times out on slow networks</td><td>open</td></tr>"
        "<tr><td>102</td><td>Export to CSV drops the last row</td><td>closed</td></tr></table>",
        typed=[
            "",
            "I can reproduce this on version 2.3",
            "I can reproduce this on version 2.3. The save dialog splits the name at the comma",
            "I can reproduce this on version 2.3. The save dialog splits the name at the comma, so the path is invalid. Fix attached.",
        ],
    ),
    dict(
        bar="#c23b22",
        app="Mail",
        side="Inbox (12)<br>Starred<br>Sent<br>Drafts<br>Spam<br>Trash<br>Work<br>Travel",
        body="<p><b>To:</b> anna.schmidt@example.org<br><b>Subject:</b> Quarterly report numbers</p>"
        "<p>From: Anna Schmidt — Could you send me the final numbers for the third quarter before Friday?</p>",
        typed=[
            "Hi Anna,",
            "Hi Anna, the revenue for Q3 was 1.24 million, up 8 percent",
            "Hi Anna, the revenue for Q3 was 1.24 million, up 8 percent. Costs stayed flat at 0.9 million. Best, Tom",
        ],
    ),
    dict(
        bar="#333333",
        app="Search",
        side="All<br>Images<br>News<br>Maps<br>Shopping<br>Videos",
        body="".join(
            f"<h3 style='color:#1a0dab;margin-bottom:2px'>Result {i}: how to rename files in bulk on Linux</h3>"
            f"<div style='color:#006621'>https://example.com/guide/{i}</div><p>Use the rename command or a small shell loop; "
            f"this guide shows both with examples for spaces and commas in names.</p>"
            for i in range(1, 5)
        ),
        typed=["rename files", "rename files with commas linux", "rename files with commas linux bash loop"],
    ),
]

SETTINGS = [  # (label, format, quality, scale, gray, webp method, resize filter)
    ("webp q60 (previous --full)", "webp", 60, 1.0, False, 4, "lanczos"),
    ("webp q40", "webp", 40, 1.0, False, 4, "lanczos"),
    ("webp q60 gray", "webp", 60, 1.0, True, 4, "lanczos"),
    ("webp q50 gray scale 0.75 (previous default)", "webp", 50, 0.75, True, 4, "lanczos"),
    ("webp q75 scale 0.75", "webp", 75, 0.75, False, 4, "lanczos"),
    ("png", "png", 0, 1.0, False, 4, "lanczos"),
    # cheaper encodes: libwebp method 2 skips the rate-distortion pass of methods 3-4 (about
    # 2.5x faster), a bilinear/hamming/bicubic resize costs a half to two thirds of lanczos
    ("webp q50 gray scale 0.75 m2 bilinear", "webp", 50, 0.75, True, 2, "bilinear"),
    ("webp q50 gray scale 0.75 m2 hamming", "webp", 50, 0.75, True, 2, "hamming"),
    ("webp q50 gray scale 0.75 m2 bicubic", "webp", 50, 0.75, True, 2, "bicubic"),
    ("webp q50 gray scale 0.75 m2 lanczos", "webp", 50, 0.75, True, 2, "lanczos"),
    ("webp q48 gray scale 0.75 m2 bicubic (default)", "webp", 48, 0.75, True, 2, "bicubic"),
    ("webp q45 gray scale 0.75 m2 bicubic", "webp", 45, 0.75, True, 2, "bicubic"),
    ("webp q60 m2 (--full)", "webp", 60, 1.0, False, 2, "bicubic"),
]


def render(work: Path) -> list[Path]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("needs chromium (apt-get install chromium)")
    out = []
    for i, screen in enumerate(SCREENS):
        for j, typed in enumerate(screen["typed"]):
            html = work / f"s{i}_{j}.html"
            html.write_text(
                PAGE.format(typed=typed, filler=FILLER, **{k: v for k, v in screen.items() if k != "typed"})
            )
            png = work / f"s{i}_{j}.png"
            subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--window-size={W},{H}",
                    f"--screenshot={png}",
                    html.as_uri(),
                ],
                capture_output=True,
                timeout=120,
                check=True,
            )
            out.append(png)
    return out


def words(img: Image.Image, work: Path) -> set[str]:
    path = work / "ocr.png"
    img.save(path)
    text = subprocess.run(["tesseract", str(path), "-"], capture_output=True, text=True).stdout
    return set(re.findall(r"[A-Za-z0-9]{3,}", text))


def main() -> int:
    only = sys.argv[1:]  # optional: labels (substrings) of the settings to run
    if not shutil.which("tesseract"):
        sys.exit("needs tesseract (apt-get install tesseract-ocr)")
    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    try:
        screens = render(work)
        originals = [Image.open(p).convert("RGB") for p in screens]
        truth = [words(im, work) for im in originals]
        rows = []
        for label, fmt, quality, scale, gray, method, resample in SETTINGS:
            if only and not any(o == label for o in only):
                continue
            pipe = FramePipeline.__new__(FramePipeline)  # the encoder only, no writer or thread
            pipe.fmt, pipe.quality, pipe.scale, pipe.gray = fmt, quality or 60, scale, gray
            pipe.method, pipe.resample = method, resample
            sizes, secs, recall = [], [], []
            for im, want in zip(originals, truth):
                raw = im.convert("RGBX").tobytes("raw", "BGRX")
                out = (round(W * scale), round(H * scale))
                job = _Job("f", raw, (W, H), out, 0.0, 0, "after", "")
                t0 = time.process_time()
                data = pipe.encode(job)
                secs.append(time.process_time() - t0)
                sizes.append(len(data))
                back = Image.open(__import__("io").BytesIO(data)).convert("RGB")
                if back.size != (W, H):
                    back = back.resize((W, H), Image.Resampling.LANCZOS)
                got = words(back, work)
                recall.append(len(want & got) / max(1, len(want)))
            mean = sum(sizes) / len(sizes)
            rows.append(
                {
                    "setting": label,
                    "mean_kb": round(mean / 1e3, 1),
                    "mb_per_hour": round(mean * FRAMES_PER_HOUR / 1e6, 1),
                    "encode_ms": round(1e3 * sum(secs) / len(secs)),
                    "ocr_recall": round(sum(recall) / len(recall), 3),
                    "min_recall": round(min(recall), 3),
                }
            )
            print(rows[-1], flush=True)
        (ROOT / "bench" / "_work").mkdir(parents=True, exist_ok=True)
        name = "recorder_storage.json" if not only else "recorder_storage-selected.json"
        (ROOT / "bench" / "_work" / name).write_text(json.dumps(rows, indent=2))
        print(
            "\n| setting | mean frame | MB per hour (1440 frames) | encode CPU per frame | OCR word recall (mean / worst) |"
        )
        print("| --- | --- | --- | --- | --- |")
        for r in rows:
            print(
                f"| {r['setting']} | {r['mean_kb']} KB | {r['mb_per_hour']} | {r['encode_ms']} ms | {r['ocr_recall']} / {r['min_recall']} |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
