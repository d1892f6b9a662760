"""Web pages as screens: how many MHTML pages a second are rendered, tagged and OCR'd.

    python bench/web_bench.py --pages 24         # -> bench/RESULTS-web.md

Pages are synthetic shop pages (a header of links, a search form, a product table with buttons,
a select, paragraphs; 1280 px wide, 1,500-2,600 px tall), served on 127.0.0.1 and captured as
MHTML with CDP `Page.captureSnapshot` (not timed). Then the `mhtml` dataset reads them: render
in Chromium from the archive, tag, screenshot (render only), OCR with tesseract (1 and 2
worker processes, each on an empty cache), and again from a warm cache. Tag recall is the
share of the page's links, buttons, inputs and selects that were tagged; word recall the share
of the page's visible words that OCR read.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402
from web_site import CHROMIUM, Server  # noqa: E402

from toolbox.core.config import PluginRef  # noqa: E402
from toolbox.core.pipeline import instantiate  # noqa: E402
from toolbox.core.plugin import BuildContext  # noqa: E402
from toolbox.web.mhtml import capture_mhtml, read_archive  # noqa: E402
from toolbox.web.render import Renderer, RenderSettings  # noqa: E402

PLANTS = "rose tulip fern cactus orchid lily daisy maple ivy basil mint sage thyme lavender peony aloe".split()
WORDS = "fresh garden soil pots seeds water light shade grow bloom winter summer delivery offer price".split()
CSS = """body { font-family: "DejaVu Sans", sans-serif; font-size: 16px; margin: 24px; color: #222; }
nav a { margin-right: 18px; } h1 { font-size: 30px; } td, th { padding: 6px 14px; text-align: left; }
button, input, select { font-size: 16px; padding: 4px 8px; } .note { color: #555; max-width: 900px; }
"""


def make_page(rng: random.Random, n: int) -> tuple[str, int]:
    """A shop page and how many interactable elements it has."""
    nav = " ".join(f'<a href="/c/{i}">{rng.choice(PLANTS).title()} {rng.choice(WORDS)}</a>' for i in range(6))
    rows = []
    for i in range(rng.randint(24, 48)):
        name = f"{rng.choice(PLANTS).title()} {rng.choice(WORDS)} {rng.randint(2, 99)}"
        rows.append(
            f"<tr><td>{name}</td><td>{rng.randint(2, 80)}.{rng.randint(10, 99)} EUR</td>"
            f'<td><button type="button">Add {i + 1}</button></td></tr>'
        )
    text = " ".join(rng.choice(WORDS + PLANTS) for _ in range(rng.randint(150, 300)))
    html = f"""<!doctype html><html><head><title>Shop page {n}</title><link rel="stylesheet" href="shop.css"></head>
<body><nav>{nav}</nav><h1>Garden shop page {n}</h1>
<form><input name="q" placeholder="Search plants"> <select><option>All sizes</option><option>Large</option></select>
<button type="button">Search</button></form>
<table><tr><th>Plant</th><th>Price</th><th></th></tr>{"".join(rows)}</table>
<p class="note">{text}</p><a href="/help">Help and contact</a></body></html>"""
    return html, 6 + 3 + len(rows) + 1


def capture_pages(folder: Path, count: int) -> dict[str, dict[str, Any]]:
    site, pages = folder / "site", folder / "pages"
    site.mkdir()
    pages.mkdir()
    (site / "shop.css").write_text(CSS)
    rng = random.Random(7)
    expected: dict[str, dict[str, Any]] = {}
    for n in range(count):
        html, interactables = make_page(rng, n)
        (site / f"p{n:03d}.html").write_text(html)
        expected[f"p{n:03d}"] = {"interactables": interactables}
    server = Server(site)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1080})
            for name in expected:
                page.goto(server.url + f"{name}.html")
                expected[name]["words"] = Counter(words(page.inner_text("body")))
                (pages / f"{name}.mhtml").write_text(capture_mhtml(page))
            browser.close()
    finally:
        server.close()
    return expected


def words(text: str) -> list[str]:
    return [w for w in (re.sub(r"^\W+|\W+$", "", t) for t in text.split()) if w]


def load() -> str:
    """`cat /proc/loadavg`'s first three figures: the 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


RUNS: dict[str, dict[str, Any]] = {  # name -> the mhtml dataset's options (the first renders only)
    "render + tag + screenshot": {},
    "render + tag + OCR, cold, 1 OCR process": {"ocr_workers": 1},
    "render + tag + OCR, cold, 2 OCR processes": {"ocr_workers": 2},
    "render + tag + OCR, cold, 2 OCR processes, tesseract upscale 1.0": {
        "ocr_workers": 2,
        "ocr": {"name": "tesseract", "upscale": 1.0},
    },
}


def measure(folder: Path, run: str, cache: str) -> dict[str, Any]:
    """One run, in this (child) process: seconds, pages and what they hold."""
    expected = json.loads((folder / "expected.json").read_text())
    started = time.perf_counter()
    if run == "render + tag + screenshot":
        with Renderer(RenderSettings()) as renderer:
            rendered = [renderer.render(read_archive(f.read_bytes())) for f in sorted((folder / "pages").glob("*"))]
        tags = sum(len(r.tags) for r in rendered) / sum(e["interactables"] for e in expected.values())
        heights = [r.height for r in rendered]
        return {"seconds": time.perf_counter() - started, "pages": len(rendered), "tags": tags, "heights": heights}
    ctx = BuildContext(base_dir=folder, cache_dir=folder / cache)
    ref = PluginRef.model_validate({"name": "mhtml", "path": "pages", **RUNS[run]})
    pages = list(instantiate("datasets", ref, "datasets[0]", ctx).records())  # type: ignore[attr-defined]
    seconds = time.perf_counter() - started
    found = sum(
        sum((Counter(w.text for w in p.words) & Counter(expected[Path(p.path).stem]["words"])).values()) for p in pages
    )
    wanted = sum(sum(e["words"].values()) for e in expected.values())
    per_page = sum(len(p.words) + len(p.tags) for p in pages) / max(len(pages), 1)
    return {"seconds": seconds, "pages": len(pages), "recall": found / wanted, "per_page": per_page}


def child(folder: Path, run: str, cache: str) -> tuple[dict[str, Any], float]:
    """`measure` in a child process, and the CPU seconds it and every process it started used
    (Chromium, OCR workers, tesseract): a figure the machine's load does not change much."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, __file__, "--measure", run, "--folder", str(folder), "--cache", cache],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(out.splitlines()[-1]), cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-web.md")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.folder, args.measure, args.cache)))
        return
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        expected = capture_pages(folder, args.pages)
        (folder / "expected.json").write_text(json.dumps(expected))
        results = {}
        for i, run in enumerate(RUNS):
            result, cpu = child(folder, run, f"cache{i}")
            results[run] = result
            pps = result["pages"] / result["seconds"]
            rows.append((f"{run} (pages/s)", f"{pps:.2f}", f"{cpu / result['pages']:.2f}", load()))
        warm, cpu = child(folder, list(RUNS)[2], "cache2")
        rows.append(
            (
                "the same pages again, warm cache (pages/s)",
                f"{warm['pages'] / warm['seconds']:.1f}",
                f"{cpu / warm['pages']:.2f}",
                load(),
            )
        )
    render = results["render + tag + screenshot"]
    for run, result in results.items():
        if "recall" in result:
            rows.append(
                (f"OCR word recall (visible words read), {run.split(', ', 2)[-1]}", f"{result['recall']:.3f}", "", "")
            )
    rows.append(("tag recall (links, buttons, inputs, selects tagged)", f"{render['tags']:.3f}", "", ""))
    rows.append(
        ("page height, min-max (px; the screen's height)", f"{min(render['heights'])}-{max(render['heights'])}", "", "")
    )
    rows.append(("words and tags per page (mean)", f"{warm['per_page']:.0f}", "", ""))
    lines = [
        "# Web pages as screens",
        "",
        f"`python bench/web_bench.py --pages {args.pages}` on {platform.machine()}, {os.cpu_count()} cores "
        f"(shared with other jobs), Python {platform.python_version()}, Chromium (Debian), tesseract 5; "
        f"{time.strftime('%Y-%m-%d')}.",
        "Synthetic shop pages captured as MHTML (see the script's docstring), 1280 px viewport, full page up to "
        "3,240 px. Each run is a fresh process (browser start included); CPU is the seconds of CPU per page used "
        "by it and every process it started (Chromium, OCR workers, tesseract). Load average (`cat /proc/loadavg`: "
        "1, 5, 15 min) beside each timing.",
        "",
        "| what | measured | CPU s/page | load |",
        "| --- | --- | --- | --- |",
        *(f"| {what} | {value} | {cpu} | {where} |" for what, value, cpu, where in rows),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
