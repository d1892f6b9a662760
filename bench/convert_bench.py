"""File conversion end to end: glaive JSONL -> openai with exact_dedupe, near_dedupe and
max_length 4096, through `build_data.py` in a fresh process (start-up and imports included).

    python bench/convert_bench.py                         # 100,000 rows, writes RESULTS-convert.md
    python bench/convert_bench.py -n 20000 --before /tmp/old-checkout --out -

The rows are the dedupe bench's synthetic computer-use episodes (10% planted near-duplicates,
seed 7) written as glaive rows. `--before DIR` builds the same file with an earlier checkout in
the same run (ratio at one load) and says whether both wrote the same bytes. Peak RSS is the
build process's own high-water mark; the load average (1 min) is taken after each build.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dedupe_bench import machine, make_corpus  # noqa: E402

from toolbox.formats.glaive import GlaiveFormat  # noqa: E402

WORK = ROOT / "bench" / "_work" / "convert"
# build_data.py's main in this process, then the process's peak RSS and CPU as the last line
RUN = """
import json, resource, runpy, sys
sys.path.insert(0, ".")
sys.argv = ["build_data.py", *json.loads(sys.argv[1])]
try:
    runpy.run_path("build_data.py", run_name="__main__")
except SystemExit as exc:
    if exc.code not in (None, 0):
        raise
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"maxrss_kb": usage.ru_maxrss}))
"""


@dataclass
class Build:
    label: str
    seconds: float
    cpu: float
    peak_mb: float
    written: int
    tokens: int
    load: float
    output: Path


def glaive_file(n: int, seed: int) -> Path:
    """n glaive rows (made once, then reused)."""
    path = WORK / f"glaive-{n}-{seed}.jsonl"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    episodes, _ = make_corpus(n, 0.1, seed)
    fmt = GlaiveFormat()
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        for episode in episodes:
            f.write(orjson.dumps(fmt.encode(episode)) + b"\n")
    tmp.rename(path)
    return path


def build(label: str, code: Path, source: Path, output: Path) -> Build:
    config = WORK / f"convert-{label}.yaml"
    config.write_text(
        json.dumps(
            {
                "datasets": [{"name": "file", "path": str(source), "format": "glaive"}],
                "tasks": [],
                "filters": ["exact_dedupe", "near_dedupe"],
                "max_length": 4096,
                "format": "openai",
                "output": str(output),
                "cache_dir": str(WORK / "cache"),
            }
        )
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(["--config", str(config), "-q"])],
        cwd=code,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label}: build failed\n{proc.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = json.loads(proc.stdout.strip().splitlines()[-1])["maxrss_kb"] / 1024
    stats = json.loads(output.with_name(output.name + ".stats.json").read_text())
    return Build(
        label,
        seconds,
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        peak,
        stats["written"],
        stats["tokens"],
        os.getloadavg()[0],
        output,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--before", type=Path, help="an earlier checkout, built in the same run")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-convert.md")), help="or - for stdout")
    args = parser.parse_args()
    source = glaive_file(args.n, args.seed)
    codes = [("this version", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    builds = []
    for i, (label, code) in enumerate(codes):
        builds.append(build(label, code, source, WORK / f"out-{i}.jsonl"))
        b = builds[-1]
        print(f"{label}: {b.seconds:.1f} s, {b.written / b.seconds:,.0f} rows/s, load {b.load:.1f}", file=sys.stderr)
    lines = [
        "# File conversion: results (bench/convert_bench.py)",
        "",
        f"Machine: {machine()}. The machine is shared: the load average (1 min) after each build is given.",
        f"Input: {args.n:,} glaive rows (the dedupe bench's synthetic episodes, 10% planted near-duplicates, "
        f"seed {args.seed}), {source.stat().st_size / 1e6:.0f} MB.",
        "Build: `build_data.py` in a fresh process: file dataset (glaive) -> exact_dedupe -> near_dedupe -> "
        "max_length 4096 -> openai, every row validated.",
        "",
        "| code | seconds | rows written | rows written/s | input rows/s | CPU s | peak RSS | tokens | load |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for b in builds:
        lines.append(
            f"| {b.label} | {b.seconds:.1f} | {b.written:,} | {b.written / b.seconds:,.0f} | "
            f"{args.n / b.seconds:,.0f} | {b.cpu:.0f} | {b.peak_mb:,.0f} MB | {b.tokens:,} | {b.load:.1f} |"
        )
    if len(builds) == 2:
        new, old = builds
        same = new.output.read_bytes() == old.output.read_bytes()
        lines += [
            "",
            f"Same run: {old.seconds / new.seconds:.1f}x the speed of the earlier code; "
            f"the two outputs are {'byte-identical' if same else 'DIFFERENT'}.",
        ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out != "-":
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
