#!/usr/bin/env python3
"""Vision trajectories: steps exported per second with their screenshots (resize + encode +
write, rows validated as a build does: every point round-tripped), and bytes per step, on the
one-hour synthetic session of bench/interval_bench.py (made there, or reused from bench/_work).

Episodes are made once (interval_episodes, heuristic, OCR from the interval bench's cache when
it is warm); only the format's work is timed: encode_rows, validate, write rows and images.

    python bench/vision_bench.py [--minutes 60] [--ocr tesseract|none]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from interval_bench import WORK, make_session  # noqa: E402

from toolbox.core import registry  # noqa: E402
from toolbox.core.config import PluginRef  # noqa: E402
from toolbox.core.format import FormatError  # noqa: E402
from toolbox.core.models import Episode  # noqa: E402
from toolbox.core.pipeline import instantiate  # noqa: E402
from toolbox.core.plugin import BuildContext  # noqa: E402
from toolbox.core.session import read_session  # noqa: E402

OUT = ROOT / "bench" / "_work" / "vision"
RUNS: list[tuple[str, dict[str, Any]]] = [
    ("llamafactory_vision", {}),  # grid1000, 1280 px long side
    ("llamafactory_vision", {"model_family": "qwen2.5-vl"}),  # smart_resize: 1932x1092
    ("openai_vision", {}),  # pixels, 1024 px, data URLs in the rows
    ("opencua", {}),  # normalized, 1280 px
    ("opencua", {"image_format": "jpeg"}),
]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def episodes(folder: Path, ocr: str | None) -> list[Episode]:
    ctx = BuildContext(cache_dir=WORK / f"cache-{ocr}")
    task = instantiate("tasks", PluginRef.model_validate({"name": "interval_episodes", "ocr": ocr}), "tasks[0]", ctx)
    return list(task.run(read_session(folder)))


def export(name: str, options: dict[str, Any], made: list[Episode], out: Path) -> dict[str, Any]:
    """One format over all episodes, as pipeline.run writes it; timings and sizes."""
    if out.parent.exists():
        shutil.rmtree(out.parent)
    out.parent.mkdir(parents=True)
    ctx = BuildContext()
    fmt = registry.get("formats", name)(registry.get("formats", name).Options.model_validate(options), ctx)
    steps = dropped = 0
    start, cpu = time.perf_counter(), cpu_seconds()
    fmt.start(out)
    with out.open("wb") as handle:
        for episode in made:
            try:
                rows = fmt.encode_rows(episode)
            except FormatError:
                dropped += 1
                continue
            problems = [p for row in rows for p in fmt.validate(row)]
            assert not problems, problems[:3]
            handle.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))
            steps += len(episode.metadata["steps"])
    ctx.finish(out)
    seconds, cpu_used = time.perf_counter() - start, cpu_seconds() - cpu
    size = sum(f.stat().st_size for f in out.parent.rglob("*") if f.is_file())
    vision = ctx.stats.extra["vision"]
    return {
        "steps": steps,
        "dropped": dropped,
        "rows": vision["rows"],
        "images": vision["images"],
        "seconds": seconds,
        "cpu": cpu_used,
        "bytes": size,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--ocr", default="tesseract", help="OCR engine for the episodes, or 'none'")
    parser.add_argument("--label", default="this version", help="what code this run measures (first column)")
    args = parser.parse_args()
    folder = make_session(WORK, args.minutes)
    ocr = None if args.ocr == "none" else args.ocr
    started = time.perf_counter()
    made = episodes(folder, ocr)
    print(f"{len(made)} episodes in {time.perf_counter() - started:.0f} s (not timed below)", flush=True)
    lines = []
    for name, options in RUNS:
        label = name + "".join(f", {k}={v}" for k, v in options.items())
        r = export(name, options, made, OUT / name / "out.jsonl")
        per_step = r["bytes"] / r["steps"] / 1024
        line = (
            f"| {args.label} | {label} | {len(made) - r['dropped']} | {r['steps']} | {r['rows']} | {r['images']} | "
            f"{r['seconds']:.1f} s | {r['cpu']:.1f} s | {r['steps'] / r['seconds']:.1f} | {per_step:.0f} KiB | "
            f"{r['load']:.1f} |"
        )
        print(line, flush=True)
        lines.append(line)
    header = [
        "# Vision trajectory export benchmark (bench/vision_bench.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; shared, so",
        "the 1-minute load average at the end of each run is given.",
        f"Session: bench/interval_bench.py's {args.minutes}-minute synthetic session (1920x1080 webp frames), "
        f"{len(made)} episodes made with the heuristic transcriber and OCR {args.ocr} (not timed).",
        "Timed: the format's work only, as a build does it: steps and screenshots of each episode, every point",
        "encoded and round-tripped, images resized (Lanczos), encoded and written (or made data URLs), rows",
        "validated (which reads each image's size back) and written. Bytes per step: the JSONL plus the images",
        "folder, over the steps (actions) exported.",
        "",
        "| code | format | episodes | steps | rows | images | time | CPU | steps/s | bytes/step | load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    results = ROOT / "bench" / "RESULTS-vision.md"
    text = results.read_text() if results.exists() else ""
    earlier = [line for line in text.splitlines() if line.startswith("| ") and line.count("|") == lines[0].count("|")]
    earlier = [line for line in earlier if not line.startswith(("| code ", "| --- "))]
    notes = text[text.index("\nNotes") :] if "\nNotes" in text else ""
    results.write_text("\n".join(header + earlier + lines) + "\n" + notes)


if __name__ == "__main__":
    main()
