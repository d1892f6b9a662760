"""Report size and speed for a large build, and the README screenshot.

    python bench/report_bench.py --episodes 1000 --frames 2          # -> bench/RESULTS-report.md
    python bench/report_bench.py --screenshot docs/report.png        # demo build, one episode open

The large build is synthetic (tests/report_sample.py: 1280x800 WebP frames, clicks, OCR
words, 10% dropped) because only one real session ships; the page is timed in Debian's
headless Chromium through Playwright.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the synthetic build is a test fixture

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from report_sample import make_sample_build  # noqa: E402

from toolbox.cli import main as build_data  # noqa: E402

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def timed(func) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def page_timings(html: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        out["load to ready (s)"] = timed(
            lambda: (page.goto(html.as_uri()), page.wait_for_selector("body[data-ready='1']"))
        )
        out["next page (s)"] = timed(lambda: page.click("#next"))
        out["search over all text, incl. 120 ms debounce (s)"] = timed(
            lambda: (page.fill("#search", "weekly"), expect(page.locator("#count")).to_contain_text(" of "))
        )
        out["filter by drop reason (s)"] = timed(lambda: page.select_option("#f-reason", index=1))

        def open_episode() -> None:
            page.locator("#list tbody tr.row").first.click()
            page.wait_for_selector("#detail .frame img")

        out["open an episode (s)"] = timed(open_episode)
        out["JS heap, as Chromium reports it (quantized) (MB)"] = page.evaluate(
            "performance.memory ? performance.memory.usedJSHeapSize / 1e6 : -1"
        )
        assert not errors, errors
        browser.close()
    return out


def bench(episodes: int, frames: int, results: Path) -> None:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        build = make_sample_build(
            root,
            episodes=episodes,
            sessions=max(1, episodes // 100),
            frames_per_episode=frames,
            size=(1280, 800),
            drop_every=10,
            image_ext=".webp",
        )
        made = time.perf_counter() - started
        report = root / "report.html"
        cold = timed(lambda: build_data(["report", str(build.output), "-o", str(report)]))
        warm = timed(lambda: build_data(["report", str(build.output), "-o", str(report)]))
        small = min(100, episodes)
        embed_build = make_sample_build(
            root / "embed",
            episodes=small,
            sessions=1,
            frames_per_episode=frames,
            size=(1280, 800),
            drop_every=10,
            image_ext=".webp",
        )
        embedded = root / "embed.html"
        build_data(["report", str(embed_build.output), "-o", str(embedded), "--frames", "embed"])
        timings = page_timings(report)
        rows += [
            ("episodes (kept + dropped)", f"{build.kept + build.dropped:,} ({build.kept:,} + {build.dropped:,})"),
            (
                "frames (1280x800 WebP)",
                f"{episodes * frames:,}, {folder_bytes(root / 'sessions') / 1e6:.0f} MB on disk (referenced, not copied)",
            ),
            ("episodes log (<output>.episodes.jsonl)", f"{build.episodes_log.stat().st_size / 1e6:.1f} MB"),
            ("report.html", f"{report.stat().st_size / 1e6:.2f} MB"),
            ("report_files/ (400 px WebP thumbnails)", f"{folder_bytes(root / 'report_files') / 1e6:.1f} MB"),
            ("write the report, cold (s)", f"{cold:.1f}"),
            ("write the report, thumbnails already made (s)", f"{warm:.1f}"),
            (
                "thumbnail cost per frame, (cold - warm) / frames (ms)",
                f"{(cold - warm) / (episodes * frames) * 1000:.0f}",
            ),
            (f"--frames embed, {small} episodes: one HTML file", f"{embedded.stat().st_size / 1e6:.1f} MB"),
            ("(making the synthetic build itself, s)", f"{made:.0f}"),
        ]
        rows += [(f"Chromium: {k}", f"{v:.2f}") for k, v in timings.items()]
    machine = f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs), Python {platform.python_version()}, Chromium (Debian)"
    text = [
        "# Report benchmark",
        "",
        f"`python bench/report_bench.py --episodes {episodes} --frames {frames}` on {machine}; {time.strftime('%Y-%m-%d')}.",
        "Synthetic build (tests/report_sample.py), default `--frames link`. Wall-clock numbers on a loaded machine: read them as orders of magnitude.",
        "",
        "| what | measured |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
        "The list shows 50 episodes a page and only the opened episode's frames are in the page, so the",
        "page cost grows with the JSON (about 2 KB an episode plus its OCR words), not with the frames.",
        "Rewriting a report reuses the thumbnails already in `<report>_files/` (keyed by frame path, size and quality).",
        "Most of the warm time is Python start-up and plugin imports, reading the episodes log and probing frame sizes.",
        "",
    ]
    results.write_text("\n".join(text))
    print("\n".join(text))


def screenshot(target: Path) -> None:
    """A real build of configs/demo.yaml with --report, one kept episode open, OCR boxes on."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        assert (
            build_data(
                [
                    "--config",
                    str(ROOT / "configs" / "demo.yaml"),
                    "--output-file",
                    str(Path(tmp) / "demo.jsonl"),
                    "--report",
                    str(report),
                    "-q",
                ]
            )
            == 0
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(report.as_uri())
            page.wait_for_selector("body[data-ready='1']")
            rows = page.locator("#list tbody tr.row.kept")
            rows.nth(min(1, rows.count() - 1)).click()
            page.wait_for_selector("#detail .frame img")
            page.check("#ocr-toggle")
            page.wait_for_timeout(500)
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)
            browser.close()
    print(f"wrote {target}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=2, help="frames per episode")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS-report.md")
    parser.add_argument("--screenshot", type=Path, help="write the README screenshot here instead of benchmarking")
    args = parser.parse_args()
    if args.screenshot:
        screenshot(args.screenshot)
    else:
        bench(args.episodes, args.frames, args.results)
