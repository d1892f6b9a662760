"""Formatting + writing throughput (episodes/s) of every output format.

    python bench/format_bench.py                  # 20,000 episodes, 3 repeats, writes RESULTS-formats.md
    python bench/format_bench.py -n 5000 --out -

Typical episodes: a system prompt, 5 tools, 8-12 turns (user, 3-5 x assistant thought + call
and tool result, final answer). Each row is `encode(episode)`, then `orjson.dumps(row) + b"\\n"`
written to a file on disk. The best of the repeats counts. The split (encode vs dumps+write)
and a profile of encode's top functions say which part is slow when a format misses the target.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedupe_bench import Vocabulary, machine, make_episode  # noqa: E402

from toolbox.core.memory import collected_between_shards  # noqa: E402
from toolbox.core.models import Episode  # noqa: E402
from toolbox.formats.glaive import GlaiveFormat  # noqa: E402
from toolbox.formats.openai import OpenAIFormat  # noqa: E402
from toolbox.formats.sharegpt import ShareGPTFormat  # noqa: E402

FORMATS = {"glaive": GlaiveFormat, "sharegpt": ShareGPTFormat, "openai": OpenAIFormat}
TARGET = 20_000


def episodes(n: int, seed: int = 3) -> list[Episode]:
    import random

    rng = random.Random(seed)
    vocab = Vocabulary(random.Random(12345))
    return [make_episode(rng, vocab, f"ep{i}") for i in range(n)]


def run(fmt, eps: list[Episode], path: Path) -> tuple[float, float, float, int, float]:
    """(total seconds, encode seconds, dumps+write seconds, bytes written, validate seconds).
    Validation (as a build checks every row before writing it) is timed apart from the total."""
    encode, dumps, validate = fmt.encode, orjson.dumps, fmt.validate
    t0 = time.perf_counter()
    rows = [encode(e) for e in eps]
    t1 = time.perf_counter()
    with open(path, "wb", buffering=1 << 20) as f:
        for row in rows:
            f.write(dumps(row) + b"\n")
    t2 = time.perf_counter()
    problems = [validate(row) for row in rows]
    t3 = time.perf_counter()
    assert not any(problems), next(p for p in problems if p)
    return t2 - t0, t1 - t0, t2 - t1, path.stat().st_size, t3 - t2


def profile(fmt, eps: list[Episode], top: int = 6) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for e in eps:
        fmt.encode(e)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
    total = stats.total_tt
    rows = []
    for (file, line, func), (_, _calls, tottime, _, _) in sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]:
        where = f"{Path(file).name}:{line}({func})" if line else func
        rows.append(f"{where} {tottime / total:.0%}")
    return "; ".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-formats.md")))
    args = parser.parse_args()
    eps = episodes(args.n)
    turns = sum(len(e.turns) for e in eps) / len(eps)
    calls = sum(e.tool_call_count() for e in eps) / len(eps)
    results = []
    with tempfile.TemporaryDirectory(prefix="fmtbench") as tmp:
        for name, cls in FORMATS.items():
            fmt = cls()
            # with the garbage collector set as a build sets it (build_data.py): no full collection
            # of the 20k episodes held here in the middle of a format's rows
            with collected_between_shards():
                best = min(
                    (run(fmt, eps, Path(tmp) / f"{name}.jsonl") for _ in range(args.repeats)), key=lambda r: r[0]
                )
            prof = profile(fmt, eps[: min(2000, len(eps))])
            # diagnostic: the same episodes without tool specs, i.e. if serializing the (usually
            # identical) tool list per episode were free, e.g. cached
            bare = [e.model_copy(update={"tools": []}) for e in eps]
            with collected_between_shards():
                no_tools = min(run(fmt, bare, Path(tmp) / f"{name}-bare.jsonl")[0] for _ in range(args.repeats))
            results.append((name, *best, prof, no_tools))
            total, enc, wr, size, val = best
            print(
                f"{name:<9} {args.n / total:9,.0f} ep/s  encode {enc / total:.0%}  dumps+write {wr / total:.0%}  {size / args.n:,.0f} B/row",
                file=sys.stderr,
            )
    lines = [
        "# Format throughput: results",
        "",
        f"Machine: {machine()}. orjson {orjson.__version__}. Single process.",
        f"Command: `python bench/format_bench.py -n {args.n} --repeats {args.repeats}` (best of {args.repeats}).",
        f"Load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} (the machine is shared; other work inflates times).",
        f"Episodes: {args.n:,} synthetic computer-use episodes (system prompt, 5 tools, {turns:.1f} turns and {calls:.1f} tool calls on average).",
        f"Target: {TARGET:,} episodes/s for encode + orjson dumps + write to disk.",
        "",
        "| format | episodes/s | vs target | encode share | dumps+write share | bytes/row | episodes/s without tool specs "
        "| validate rows/s | validate time / encode time |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, total, enc, wr, size, val, _, no_tools in results:
        rate = args.n / total
        lines.append(
            f"| {name} | {rate:,.0f} | {'meets' if rate >= TARGET else 'BELOW'} | {enc / total:.0%} | {wr / total:.0%} "
            f"| {size / args.n:,.0f} | {args.n / no_tools:,.0f} | {args.n / val:,.0f} | {val / enc:.2f} |"
        )
    lines += ["", "Where encode spends its time (cProfile, own time of the top functions, share of encode):", ""]
    for name, *_, prof, _ in results:
        lines.append(f"- {name}: {prof}")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out != "-":
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
