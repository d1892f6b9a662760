"""LLM transcriber throughput: 200 intervals against a local OpenAI-compatible server that
answers after 200 ms, with 1 and with 8 requests in flight, then a rebuild from the cache.

    python bench/llm_bench.py [--intervals 200] [--delay 0.2]

Writes bench/RESULTS-llm.md. Targets: >= 6x faster with 8 in flight; cached rebuild < 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_llm_server import FakeLLMServer, Reply  # noqa: E402

from toolbox.activity.models import Action, Interval  # noqa: E402
from toolbox.core.plugin import BuildContext  # noqa: E402
from toolbox.ocr_engines.words import OcrWord  # noqa: E402
from toolbox.transcribers.openai import OpenAITranscriber  # noqa: E402


def interval(i: int) -> Interval:
    start = 1000.0 + 20 * i
    words = [
        OcrWord(text=t, box=(0, 0, 1, 1), conf=0.9, mid=(0.1 * k, 0.1))
        for k, t in enumerate(["Runs", f"run-{i}", "finished"])
    ]
    return Interval(
        session_id="bench",
        session_path="/tmp/bench",
        index=i,
        start=start,
        end=start + 10,
        task="find runs",
        windows=["Runs - W&B"],
        actions=[Action(kind="type", t=start + 1, text=f"run-{i}")],
        typed_text=f"run-{i}",
        screen_words=words,
    )


def responder(body: dict) -> Reply:
    n = int(re.search(r"## Interval (\d+)", json.dumps(body["messages"])).group(1))
    fn = {
        "name": "search_runs",
        "description": "Search runs.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    }
    return Reply.json(
        {
            "user_request": f"Find run-{n}",
            "final_answer": f"run-{n} finished.",
            "steps": [{"function": fn, "arguments": {"query": f"run-{n}"}, "response": f"run-{n}: finished"}],
        },
        usage=(600, 120),
    )


def transcribe(url: str, cache: Path, concurrency: int, intervals: list[Interval]) -> tuple[float, int, dict]:
    ctx = BuildContext(base_dir=cache, cache_dir=cache)
    options = OpenAITranscriber.Options(model="gpt-4o-mini", base_url=url, api_key="bench", concurrency=concurrency)
    transcriber = OpenAITranscriber(options, ctx)
    started = time.perf_counter()
    episodes = list(transcriber.transcribe(intervals))
    return time.perf_counter() - started, len(episodes), dict(ctx.stats.extra)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--intervals", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    intervals = [interval(i) for i in range(args.intervals)]
    work = Path(tempfile.mkdtemp(prefix="llm-bench-"))
    rows = []
    try:
        with FakeLLMServer(responder, delay=args.delay) as server:
            one, n1, _ = transcribe(server.url, work / "c1", 1, intervals)
            eight, n8, extra8 = transcribe(server.url, work / "c8", 8, intervals)
            in_flight = server.max_in_flight
            sent = len(server.requests)
            cached, nc, extrac = transcribe(server.url, work / "c8", 8, intervals)
            assert len(server.requests) == sent, "the cached rebuild made requests"
        assert n1 == n8 == nc == args.intervals
        rows = [
            ("1 in flight", one, n1, ""),
            ("8 in flight", eight, n8, f"{one / eight:.1f}x faster than 1; max {in_flight} in flight"),
            (
                "rebuild from cache (8)",
                cached,
                nc,
                f"{extrac['llm_cache_hits']} cache hits, {extrac['llm_requests']} requests",
            ),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "# LLM layer benchmark",
        "",
        f"`python bench/llm_bench.py --intervals {args.intervals} --delay {args.delay}`: the `openai` transcriber (real `openai` "
        f"client) on {args.intervals} intervals against tests/fake_llm_server.py answering after {args.delay * 1000:.0f} ms "
        "(127.0.0.1, same process). All three runs in the same process, one after the other.",
        "",
        f"Machine: {machine()}, measured {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "| run | wall time | episodes | notes |",
        "| --- | ---: | ---: | --- |",
        *[f"| {name} | {seconds:.2f} s | {count} | {note} |" for name, seconds, count, note in rows],
        "",
        f"Targets: >= 6x with 8 in flight (measured {one / eight:.1f}x); cached rebuild < 5 s (measured {cached:.2f} s).",
        f"Cost accounting of the 8-in-flight run at gpt-4o-mini prices: ${extra8['llm_cost_usd']:.4f} for "
        f"{extra8['llm_prompt_tokens']} prompt + {extra8['llm_completion_tokens']} completion tokens.",
        "",
    ]
    (ROOT / "bench" / "RESULTS-llm.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
