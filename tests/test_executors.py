"""A build spread over workers: local processes or a Ray cluster write the same bytes as one
process, survive a worker that dies, restart where a killed build stopped, and share the LLM
budget and concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from episodes import sample_episode
from fake_llm_server import FakeLLMServer, Reply
from test_interval_episodes import RESULTS_PAGE, RUNS_PAGE, DrawnSession

from toolbox.cli import main

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["llama 7b", "mistral base", "gpt2 small", "llama 7b"]  # the last session repeats the first
SESSIONS = [f"20260101T00000{i}Z-s{i}" for i in range(len(QUERIES))]

# A per-episode filter (so it runs in the workers) that can slow a session down, drop episodes,
# kill its worker or the whole build, and logs each session it finished, in order.
PLUGIN = """
import os, signal, time
from pathlib import Path
from toolbox import Drop, Filter, Options, register_filter

@register_filter("worker_side")
class WorkerSide(Filter):
    class Options(Options):
        flags: str
        slow: str = ""          # this session's episodes take 2 s: its shard finishes last
        drop_text: str = ""     # dropped here, in the worker
        die_once: str = ""      # its worker process dies the first time
        die_always: str = ""    # its worker process dies every time
        kill_build: str = ""    # the process dies (SIGKILL) the first time: a killed build

    def check(self, episode):
        o, session = self.options, episode.source.session or episode.source.dataset
        flags = Path(o.flags)
        if session == o.slow:
            time.sleep(2)
        for name, how in ((o.die_once, "die"), (o.kill_build, "kill")):
            flag = flags / f"{how}-{session}"
            if session == name and not flag.exists():
                flag.touch()
                os.kill(os.getpid(), signal.SIGKILL) if how == "kill" else os._exit(3)
        if session == o.die_always:
            os._exit(3)
        with open(flags / "seen.log", "a") as log:
            log.write(session + "\\n")
        if o.drop_text and o.drop_text in episode.text():
            return Drop("test drop")
        return episode
"""


def work_session(root: Path, name: str, query: str) -> None:
    s = DrawnSession(root, name=name, task=f"Find {query}")
    s.window(0.2, "Runs - Chromium", "chromium")
    s.frame(0.5, RUNS_PAGE, reason="start")
    s.click(1.0, 90, 112)
    s.frame(1.5, RESULTS_PAGE, reason="after")
    t = s.type(2.0, query)
    s.keys(t, "enter")
    s.frame(t + 1, RESULTS_PAGE + [(40, 300, f"1 result for {query}")], reason="after")
    s.save()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sessions (the last a copy of the first: the driver's dedupe drops it), a file of
    episodes, the test plugin, and an OCR cache the builds share (warmed by the first)."""
    from toolbox.formats.glaive import GlaiveFormat

    folder = tmp_path_factory.mktemp("inputs")
    for name, query in zip(SESSIONS, QUERIES, strict=True):
        work_session(folder / "sessions", name, query)
    rows = [GlaiveFormat().encode(sample_episode(i, f"request {i} about mistral runs")) for i in range(3)]
    (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "worker_side.py").write_text(PLUGIN)
    return folder


def experiment(folder: Path, inputs: Path, flags: Path, cache: Path | None = None, **options: str) -> Path:
    flags.mkdir(exist_ok=True)
    body = {
        "datasets": [
            {"name": "sessions", "path": str(inputs / "sessions")},
            {"name": "file", "path": str(inputs / "rows.jsonl")},
        ],
        "tasks": [{"name": "interval_episodes", "ocr_workers": 1}],
        "filters": [
            {"name": "worker_side", "flags": str(flags), **options},
            {"name": "quality", "min_turns": 2},
            "exact_dedupe",
            {"name": "near_dedupe", "threshold": 95},
        ],
        "plugins": [str(inputs / "worker_side.py")],
        "cache_dir": str(cache or inputs / "cache"),
    }
    path = folder / f"exp-{len(list(folder.glob('exp-*.yaml')))}.yaml"
    path.write_text(json.dumps(body))
    return path


def build(config: Path, output: Path, *flags: str) -> int:
    return main(["--config", str(config), "--output-file", str(output), "-q", *flags])


def seen(flags: Path) -> list[str]:
    """The sessions the test filter finished, in order."""
    return [name for name in (flags / "seen.log").read_text().split() if name in SESSIONS]


def comparable_stats(output: Path) -> dict:
    """The build summary, but for what depends on cache warmth (OCR cache hits), restarts and
    the config file's path."""
    stats = json.loads(output.with_name(output.name + ".stats.json").read_text())
    stats.pop("ocr")
    stats.pop("shards_reused", None)
    stats["build"].pop("config")  # each test's own YAML
    return stats


@pytest.fixture(scope="module")
def reference(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-process build (today's behaviour) in every format, with its report's episodes."""
    folder = tmp_path_factory.mktemp("reference")
    config = experiment(folder, inputs, folder / "flags", drop_text="mistral base")
    for fmt in ("openai", "glaive", "sharegpt"):
        assert build(config, folder / f"out.{fmt}.jsonl", "--format", fmt, "--report", str(folder / f"{fmt}.html")) == 0
    return folder


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local Ray cluster (2 CPUs) for the tests that need it; builds find it initialized."""
    try:
        import ray
    except ImportError:  # a skipped test would hide a broken install
        pytest.fail("needs ray: pip install 'datamakr[ray]' (bash scripts/dev.sh test installs it)")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def assert_same_build(reference: Path, folder: Path, fmt: str) -> None:
    name = f"out.{fmt}.jsonl"
    assert (folder / name).read_bytes() == (reference / name).read_bytes()
    episodes = f"{name}.episodes.jsonl"  # every episode kept or dropped, and why, in order
    assert (folder / episodes).read_bytes() == (reference / episodes).read_bytes()
    assert comparable_stats(folder / name) == comparable_stats(reference / name)


@pytest.mark.parametrize("executor", [["--workers", "2"], ["--executor", "ray"]], ids=["local-2", "ray-2"])
def test_every_executor_writes_the_one_process_bytes_whatever_finishes_first(
    executor, inputs, reference, tmp_path, request
):
    if "ray" in executor:
        request.getfixturevalue("ray_cluster")
    flags = tmp_path / "flags"
    config = experiment(tmp_path, inputs, flags, drop_text="mistral base", slow=SESSIONS[0])
    for fmt in ("openai", "glaive", "sharegpt"):
        assert (
            build(
                config, tmp_path / f"out.{fmt}.jsonl", "--format", fmt, "--report", str(tmp_path / "r.html"), *executor
            )
            == 0
        )
        assert_same_build(reference, tmp_path, fmt)
    order = seen(flags)
    assert order.index(SESSIONS[1]) < order.index(SESSIONS[0])  # the first session really finished later
    stats = comparable_stats(tmp_path / "out.openai.jsonl")
    assert stats["dropped"] and {"filter": "exact_dedupe", "reason": "exact duplicate", "count": 1} in stats["dropped"]
    assert {"filter": "worker_side", "reason": "test drop", "count": 1} in stats["dropped"]
    assert not (inputs / "cache" / "shards").exists()  # markers go once the output is written


def test_a_worker_that_dies_is_retried_and_one_that_always_dies_costs_its_shard(inputs, reference, tmp_path, caplog):
    flags = tmp_path / "flags"
    config = experiment(tmp_path, inputs, flags, drop_text="mistral base", die_once=SESSIONS[1], die_always=SESSIONS[2])
    assert build(config, tmp_path / "out.jsonl", "--workers", "2") == 0
    retried = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert any(SESSIONS[1] in m and "died (exit code 3)" in m and "attempt 2 of 3" in m for m in retried), retried
    assert sum(SESSIONS[2] in m for m in retried) == 2  # then given up
    stats = json.loads((tmp_path / "out.jsonl.stats.json").read_text())
    assert stats["skipped"] == {"shards": 1} and SESSIONS[2] in stats["problems"][0]
    written = (tmp_path / "out.jsonl").read_text()
    expected = [
        line
        for line in (reference / "out.openai.jsonl").read_text().splitlines(keepends=True)
        if "gpt2 small" not in line
    ]
    assert written == "".join(expected)  # the session that died once is there, as in one process


def test_a_ray_worker_that_dies_is_retried_and_the_bytes_are_the_same(inputs, reference, tmp_path, ray_cluster):
    config = experiment(tmp_path, inputs, tmp_path / "flags", drop_text="mistral base", die_once=SESSIONS[0])
    assert build(config, tmp_path / "out.openai.jsonl", "--executor", "ray", "--report", str(tmp_path / "r.html")) == 0
    assert (tmp_path / "flags" / f"die-{SESSIONS[0]}").exists()
    assert_same_build(reference, tmp_path, "openai")


def test_a_killed_build_restarts_where_it_stopped_and_ends_with_the_same_bytes(inputs, reference, tmp_path):
    flags = tmp_path / "flags"
    cache = tmp_path / "cache"
    config = experiment(tmp_path, inputs, flags, cache=cache, drop_text="mistral base", kill_build=SESSIONS[2])
    command = [sys.executable, str(ROOT / "build_data.py"), "--config", str(config), "-q"]
    command += ["--output-file", str(tmp_path / "out.openai.jsonl"), "--report", str(tmp_path / "r.html")]
    killed = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert killed.returncode == -9 and not (tmp_path / "out.openai.jsonl").exists()
    assert seen(flags) == SESSIONS[:2]
    assert len(list((cache / "shards").rglob("*.json"))) == 2  # the two finished sessions are kept
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert seen(flags) == SESSIONS  # the first two were not done again
    assert_same_build(reference, tmp_path, "openai")
    stats = json.loads((tmp_path / "out.openai.jsonl.stats.json").read_text())
    assert stats["shards_reused"] == 2
    assert not (cache / "shards").exists()


LLM_REPLY = {
    "user_request": "Find the run",
    "steps": [
        {
            "function": {
                "name": "search_runs",
                "description": "Search.",
                "parameters": {"type": "object", "properties": {}},
            },
            "arguments": {},
            "response": "found",
        }
    ],
    "final_answer": "Found it.",
}


def llm_experiment(folder: Path, inputs: Path, server: FakeLLMServer, budget: float) -> Path:
    body = {
        "datasets": [{"name": "sessions", "path": str(inputs / "sessions")}],
        "tasks": [
            {
                "name": "interval_episodes",
                "ocr_workers": 1,
                "idle_seconds": 0.3,  # several intervals, so several requests, per session
                "transcriber": {
                    "name": "openai",
                    "model": "m",
                    "base_url": server.url,
                    "api_key": "k",
                    "per": "interval",
                    "concurrency": 1,
                    "budget_usd": budget,
                    "max_tokens": 100,
                    "prices": {"m": {"input": 0, "output": 1000}},  # USD per 1M tokens: $0.001 a completion token
                },
            }
        ],
        "cache_dir": str(folder / "cache"),  # no LLM replies cached yet
    }
    path = folder / "llm.yaml"
    path.write_text(json.dumps(body))
    return path


@pytest.mark.parametrize("executor", [["--workers", "2"], ["--executor", "ray"]], ids=["local-2", "ray-2"])
def test_the_llm_budget_and_concurrency_are_the_builds_not_each_workers(executor, inputs, tmp_path, fake_llm, request):
    if "ray" in executor:
        request.getfixturevalue("ray_cluster")
    fake_llm.delay = 0.2  # requests overlap unless the concurrency is shared
    fake_llm.responder = lambda body: Reply.json(LLM_REPLY, usage=(100, 50))
    budget = 0.15  # a request reserves $0.10 (max_tokens 100) and costs $0.05 (50 tokens): 2 fit in the build
    assert build(llm_experiment(tmp_path, inputs, fake_llm, budget), tmp_path / "out.jsonl", *executor) in (0, 3)
    metrics = json.loads((tmp_path / "out.jsonl.llm-metrics.json").read_text())["summary"]
    # in general at most one request per worker beyond it; here each reply costs less than its
    # reservation, so not even that
    assert metrics["llm_cost_usd"] <= budget
    assert 0 < metrics["llm_requests"] == len(fake_llm.requests)
    assert metrics["llm_failures"].get("budget reached")  # the budget stopped the build's requests
    assert fake_llm.max_in_flight == 1  # concurrency 1 for the build, not per worker
    stats = json.loads((tmp_path / "out.jsonl.stats.json").read_text())
    assert stats["budget_stopped"] is True and stats["llm_requests"] == metrics["llm_requests"]


def test_a_limit_takes_the_first_records_whatever_the_number_of_workers(inputs, tmp_path):
    config = experiment(tmp_path, inputs, tmp_path / "flags")
    assert build(config, tmp_path / "one.jsonl", "--limit", "3") == 0
    assert build(config, tmp_path / "two.jsonl", "--limit", "3", "--workers", "2") == 0
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    assert json.loads((tmp_path / "two.jsonl.stats.json").read_text())["read"] == {"sessions": 3}


def test_executor_options_are_validated_like_plugins(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("datasets: [sessions]\nexecutor: {name: ray, adress: auto}\n")
    assert main(["--config", str(tmp_path / "s.yaml")]) == 2
    assert "executor (ray).adress: unknown key; did you mean 'address'?" in capsys.readouterr().err
    (tmp_path / "l.yaml").write_text("datasets: [sessions]\n")
    assert main(["--config", str(tmp_path / "l.yaml"), "--workers", "0"]) == 2
    assert "executor (local).workers: Input should be greater than or equal to 1" in capsys.readouterr().err


def test_ray_is_named_when_it_is_missing(tmp_path, monkeypatch, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "x.yaml").write_text("datasets: [{name: sessions, path: s}]\nexecutor: ray\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert main(["--config", str(tmp_path / "x.yaml")]) == 2
    assert "which the `ray` extra installs: pip install 'datamakr[ray]'" in capsys.readouterr().err


# A worker-side filter that leaves values JSON carries differently (a set in a call's
# arguments, a tuple, a datetime and inf in the metadata), and a driver-side one that drops an
# episode unless it sees them as JSON brings them back.
ODD_VALUES = """
import datetime
from toolbox import Drop, Filter, register_filter

@register_filter("odd_values")
class OddValues(Filter):
    def check(self, episode):
        call = next(t for t in episode.turns if t.tool_calls).tool_calls[0]
        call.arguments = {**call.arguments, "tags": {"only"}, "span": (1, 2)}
        episode.metadata = {"when": datetime.datetime(2026, 1, 2), "ratio": float("inf")}
        return episode

@register_filter("as_json_brings_them")
class AsJsonBringsThem(Filter):
    whole_stream = True

    def check(self, episode):
        arguments = next(t for t in episode.turns if t.tool_calls).tool_calls[0].arguments
        seen = (type(arguments["tags"]), type(arguments["span"]), episode.metadata)
        if seen != (list, list, {"when": "2026-01-02T00:00:00", "ratio": None}):
            return Drop("not as from a worker", repr(seen))
        return episode
"""


def test_values_json_carries_differently_are_the_same_in_one_process_as_from_a_worker(inputs, tmp_path):
    (tmp_path / "odd.py").write_text(ODD_VALUES)
    body = {
        "datasets": [{"name": "file", "path": str(inputs / "rows.jsonl")}],
        "filters": ["odd_values", "as_json_brings_them"],
        "plugins": [str(tmp_path / "odd.py")],
        "cache_dir": str(tmp_path / "cache"),
    }
    (tmp_path / "odd.yaml").write_text(json.dumps(body))
    for workers in ("1", "2"):
        assert build(tmp_path / "odd.yaml", tmp_path / f"out-{workers}.jsonl", "--workers", workers) == 0
    rows = [json.loads(line) for line in (tmp_path / "out-1.jsonl").read_text().splitlines()]
    assert len(rows) == 3  # none dropped: the driver's filter saw lists and strings in both builds
    call = rows[0]["messages"][2]["tool_calls"][0]["function"]
    assert json.loads(call["arguments"])["tags"] == ["only"]
    assert (tmp_path / "out-2.jsonl").read_bytes() == (tmp_path / "out-1.jsonl").read_bytes()
