#!/usr/bin/env python3
"""One build spread over workers (issue 17): the same sessions built with `local` 1 worker (one
process, as before), `local` 2 workers and `ray` on a local 2-CPU cluster, one after another,
each in a child process with a cold cache (OCR, LLM, markers).

Per executor: wall time, speedup over one worker, the shards' own time in the workers, the
overhead per shard (worker time not spent in a shard: start-up, hand-over, the tail where one
worker waits for the other), peak memory of each worker process and of the driver, and whether
the output is byte-identical to the one-worker build. A second pass on many tiny shards (the
bundled sample session copied, no OCR) measures the fixed cost per shard, and a third (20,000
episodes from a file, exact and near dedupe, one worker) what the driver alone can take: every
episode of every worker passes through its dedupe, format and writing.

Sessions: copies of bench/interval_bench.py's synthetic session with different seeds (1920x1080
webp frames, an action group every 2-8 s, tesseract on the focused window).

    python bench/scale.py [--sessions 8] [--minutes 2] [--tiny 32] [--driver 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

WORK = ROOT / "bench" / "_work" / "scale"
EXECUTORS = {
    "local-1": {"name": "local", "workers": 1},
    "local-2": {"name": "local", "workers": 2},
    "ray-2": {"name": "ray", "cpus_per_shard": 1},
}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def make_sessions(count: int, minutes: int) -> Path:
    """`count` synthetic sessions of `minutes` each (seeds 0..count-1), made once and kept."""
    import interval_bench

    root = WORK / f"sessions-{count}x{minutes}"
    for seed in range(count):
        name = f"20260101T{seed:06d}Z-scale"
        target = root / name
        if (target / ".made").is_file():
            continue
        source = interval_bench.make_session(WORK / "source" / str(seed), minutes, seed=seed)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        meta = json.loads((target / "session.json").read_text())
        (target / "session.json").write_text(json.dumps({**meta, "id": name}))
    return root


def tiny_sessions(count: int) -> Path:
    """The bundled sample session (0.2 MB, a dozen frames) copied `count` times."""
    root = WORK / f"tiny-{count}"
    sample = next((ROOT / "examples" / "sessions").iterdir())
    for i in range(count):
        target = root / f"20260102T{i:06d}Z-tiny"
        if not target.exists():
            shutil.copytree(sample, target)
            meta = json.loads((target / "session.json").read_text())
            (target / "session.json").write_text(json.dumps({**meta, "id": target.name}))
    return root


# -- one build, in a child process -------------------------------------------------------------------


def driver_corpus(count: int) -> Path:
    """`count` synthetic episodes (bench/dedupe_bench.py's corpus, 10% near-duplicates) as openai JSONL."""
    import dedupe_bench

    from toolbox.formats.openai import OpenAIFormat

    file = WORK / f"driver-{count}.jsonl"
    if not file.is_file():
        episodes, _ = dedupe_bench.make_corpus(count, 0.1, seed=7)
        fmt = OpenAIFormat()
        file.write_bytes(b"".join(json.dumps(fmt.encode(e)).encode() + b"\n" for e in episodes))
    return file


def one(executor: str, source: Path, out: Path, ocr: bool) -> dict:
    """Build `source` (a sessions folder or a JSONL file) with `executor` into `out`; the figures
    as a dict (printed as JSON)."""
    from toolbox.core.config import ExperimentConfig
    from toolbox.core.pipeline import make_pipeline, run

    cluster_start = 0.0
    if executor.startswith("ray"):
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
        cluster_start = time.perf_counter() - started
    cache = Path(tempfile.mkdtemp(prefix="scale-cache-"))
    task = {"name": "interval_episodes", "transcriber": "heuristic", "ocr": "tesseract" if ocr else None}
    config = ExperimentConfig.model_validate(
        {
            "datasets": [{"name": "file" if source.is_file() else "sessions", "path": str(source)}],
            "tasks": [task],
            "filters": ["exact_dedupe", "near_dedupe"],
            "format": "openai",
            "output": str(out),
            "cache_dir": str(cache),
            "executor": EXECUTORS[executor],
        }
    )
    pipeline = make_pipeline(config, ROOT)
    started, cpu = time.perf_counter(), _cpu()
    stats = run(pipeline, out)
    wall = time.perf_counter() - started
    cache_files = sum(1 for _ in (cache / "ocr").rglob("*.json"))
    shutil.rmtree(cache, ignore_errors=True)
    reports = pipeline.executor.reports
    workers: dict[str, float] = {}
    for report in reports:
        workers[report.worker] = max(workers.get(report.worker, 0.0), report.peak_rss_mb)
    return {
        "executor": executor,
        "wall": wall,
        "cpu": _cpu() - cpu,  # this process and its finished children (not Ray's workers)
        "cluster_start": cluster_start,
        "shards": len(reports),
        "shard_seconds": [r.seconds for r in reports],
        "shard_mb": sum(r.size_mb for r in reports),
        "ocr_cache_files": cache_files,
        "worker_peak_mb": sorted(workers.values()),
        "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "episodes": stats.episodes,
        "written": stats.written,
    }


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# -- the run ----------------------------------------------------------------------------------------------


def measure(executor: str, source: Path, out: Path, ocr: bool) -> dict:
    before = load()
    command = [sys.executable, __file__, "--one", executor, "--input", str(source), "--output", str(out)]
    if not ocr:
        command.append("--no-ocr")
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{executor} failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["load"] = f"{before} / {load()}"
    return figures


def table(rows: list[dict], reference: Path, outputs: dict[str, Path]) -> list[str]:
    base = rows[0]["wall"]
    lines = [
        "| executor | wall | speedup | shard time (sum) | overhead / shard | worker peak RSS | driver peak RSS "
        "| same bytes | load (before / after) |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |",
    ]
    for row in rows:
        capacity = 1 if row["executor"] == "local-1" else 2
        work = sum(row["shard_seconds"])
        overhead = (capacity * row["wall"] - work) / max(row["shards"], 1)
        same = outputs[row["executor"]].read_bytes() == reference.read_bytes()
        lines.append(
            f"| {row['executor']} | {row['wall']:.1f} s | {base / row['wall']:.2f}x | {work:.1f} s "
            f"| {overhead:.2f} s | {', '.join(f'{m:.0f} MB' for m in row['worker_peak_mb'])} "
            f"| {row['driver_peak_mb']:.0f} MB | {'yes' if same else 'NO'} | {row['load']} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--tiny", type=int, default=32, help="tiny shards for the fixed cost per shard (0: skip)")
    parser.add_argument("--driver", type=int, default=20000, help="episodes for the driver's own rate (0: skip)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # in the child: one build
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--no-ocr", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, Path(args.input), Path(args.output), ocr=not args.no_ocr)))
        return

    out = WORK / "out"
    out.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}; load at start: {load()}")
    passes = [("work", make_sessions(args.sessions, args.minutes), True)]
    if args.tiny:
        passes.append(("tiny", tiny_sessions(args.tiny), False))
    for label, sessions, ocr in passes:
        rows, outputs = [], {}
        for executor in EXECUTORS:
            outputs[executor] = out / f"{label}-{executor}.jsonl"
            rows.append(measure(executor, sessions, outputs[executor], ocr))
            print(f"  {label} {executor}: {rows[-1]['wall']:.1f} s", flush=True)
        what = (
            f"{args.sessions} sessions x {args.minutes} min, tesseract, cold cache"
            if ocr
            else f"{args.tiny} copies of the sample session, no OCR"
        )
        print(f"\n### {label}: {what}; {rows[0]['episodes']} episodes, {rows[0]['written']} written\n")
        print("\n".join(table(rows, outputs["local-1"], outputs)))
        ray_row = rows[-1]
        print(f"\nRay cluster start (ray.init, not in the wall time): {ray_row['cluster_start']:.1f} s")
        print("shard seconds per executor: " + "; ".join(f"{r['executor']}: {r['shard_seconds']}" for r in rows))
        print(
            f"shard results: {rows[0]['shard_mb']:.1f} MB in all; OCR cache files written: "
            f"{rows[0]['ocr_cache_files']}; CPU of the one-worker build: {rows[0]['cpu']:.0f} s"
        )
    if args.driver:
        corpus = driver_corpus(args.driver)
        row = measure("local-1", corpus, out / "driver.jsonl", ocr=False)
        driver = row["wall"] - sum(row["shard_seconds"])
        print(
            f"\n### driver: {args.driver} episodes from a file, exact + near dedupe, openai, one worker\n\n"
            f"wall {row['wall']:.1f} s, of which the shard (read the file, parse, JSON for the driver) "
            f"{sum(row['shard_seconds']):.1f} s; the driver's part {driver:.1f} s = {args.driver / driver:,.0f} "
            f"episodes/s ({row['written']} written); shard result {row['shard_mb']:.1f} MB; load {row['load']}"
        )


if __name__ == "__main__":
    main()
