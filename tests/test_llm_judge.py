"""The `llm_judge` filter, in-process and in a real CLI build with a budget."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from episodes import sample_episode
from fake_llm_server import FakeLLMServer, Reply

from toolbox.core.filter import Dropped
from toolbox.core.plugin import BuildContext
from toolbox.filters.llm_judge import LLMJudge

ROOT = Path(__file__).resolve().parent.parent


def score_by_request(body: dict) -> Reply:
    """Episode n gets score 1 + n % 5 and answers slower for even n (so replies finish out of order)."""
    n = int(re.search(r"request number (\d+)", body["messages"][-1]["content"]).group(1))
    return Reply.json({"score": 1 + n % 5, "reason": f"episode {n}\nlooks fine"}, delay=0.2 if n % 2 == 0 else 0.0)


def test_scores_are_kept_in_metadata_and_low_scores_dropped_in_order(fake_llm, tmp_path):
    fake_llm.responder = score_by_request
    ctx = BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    judge = LLMJudge(LLMJudge.Options(model="m", base_url=fake_llm.url, api_key="k", min_score=3, concurrency=4), ctx)
    episodes = [sample_episode(i, f"request number {i} about llama runs") for i in range(10)]
    out = list(judge.apply(iter(episodes)))
    assert [o.episode.id if isinstance(o, Dropped) else o.id for o in out] == [e.id for e in episodes]
    kept = [o for o in out if not isinstance(o, Dropped)]
    dropped = [o for o in out if isinstance(o, Dropped)]
    assert [e.metadata["llm_judge"]["score"] for e in kept] == [3, 4, 5, 3, 4, 5]
    assert kept[0].metadata["llm_judge"] == {"score": 3, "reason": "episode 2 looks fine", "model": "m"}
    assert {(d.reason, d.detail) for d in dropped} >= {("score below 3", "1: episode 0 looks fine")}
    assert len(dropped) == 4 and fake_llm.max_in_flight == 4
    request = fake_llm.requests[0].messages[-1]["content"]
    assert "CALL search_runs(" in request and "RESPONSE of search_runs" in request and "USER: request number" in request


def test_unjudged_episodes_follow_on_failure(fake_llm, tmp_path):
    fake_llm.responder = lambda body: Reply.text("I think it is a 4")
    ctx = BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    options = dict(model="m", base_url=fake_llm.url, api_key="k", max_validation_retries=1)
    [dropped] = list(LLMJudge(LLMJudge.Options(**options), ctx).apply(iter([sample_episode(0)])))
    assert isinstance(dropped, Dropped) and dropped.reason == "not judged: invalid reply"
    [kept] = list(LLMJudge(LLMJudge.Options(**options, on_failure="keep"), ctx).apply(iter([sample_episode(0)])))
    assert kept.metadata["llm_judge"]["error"] == "invalid reply"


def test_a_build_called_from_python_writes_the_llm_metrics(fake_llm, tmp_path):
    """Not only the CLI: make_pipeline + run write <output>.llm-metrics.json once the output is written."""
    from toolbox.core.config import ExperimentConfig
    from toolbox.core.pipeline import make_pipeline, run

    fake_llm.responder = lambda body: Reply.json({"score": 5, "reason": "good"})
    write_episodes(tmp_path / "in.jsonl", 3)
    config = ExperimentConfig.model_validate(
        {
            "datasets": [{"name": "file", "path": "in.jsonl"}],
            "filters": [{"name": "llm_judge", "model": "m", "base_url": fake_llm.url, "api_key": "k"}],
            "output": "out.jsonl",
            "cache_dir": "cache",
        }
    )
    stats = run(make_pipeline(config, tmp_path), tmp_path / "out.jsonl")
    metrics = json.loads((tmp_path / "out.jsonl.llm-metrics.json").read_text())
    assert stats.written == 3 and metrics["summary"]["llm_requests"] == 3 == len(metrics["requests"]) == len(
        fake_llm.requests
    )


def write_episodes(path: Path, n: int) -> None:
    from toolbox.formats.openai import OpenAIFormat

    path.write_text(
        "".join(
            json.dumps(OpenAIFormat().encode(sample_episode(i, f"request number {i} about llama runs"))) + "\n"
            for i in range(n)
        )
    )


def test_budget_stop_in_a_real_build_writes_finished_episodes_and_says_so(tmp_path):
    write_episodes(tmp_path / "in.jsonl", 8)
    with FakeLLMServer(lambda body: Reply.json({"score": 5, "reason": "good"}, usage=(1000, 1000))) as server:
        (tmp_path / "judge.yaml").write_text(f"""
datasets:
  - name: file
    path: in.jsonl
filters:
  - name: llm_judge
    model: local-model
    base_url: {server.url}
    concurrency: 1
    max_tokens: 1000
    budget_usd: 0.007
    prices: {{local-model: {{input: 1.0, output: 1.0}}}}
format: openai
output: out/judged.jsonl
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}

        def build() -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, str(ROOT / "build_data.py"), "--config", str(tmp_path / "judge.yaml")],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
            )

        proc = build()
        assert proc.returncode == 0, proc.stderr
        assert len(server.requests) == 3  # $0.002 each; a 4th could pass $0.007
        output = tmp_path / "out" / "judged.jsonl"
        assert len(output.read_text().splitlines()) == 3
        assert "budget of $0.0070 reached" in proc.stderr
        assert re.search(r"budget_stopped\s+│\s+True", proc.stdout) and re.search(r"llm_requests\s+│\s+3", proc.stdout)
        stats = json.loads((tmp_path / "out" / "judged.jsonl.stats.json").read_text())
        assert stats["llm_cost_usd"] == pytest.approx(0.006) and stats["budget_stopped"] is True
        assert {"filter": "llm_judge", "reason": "not judged: budget reached", "count": 5} in stats["dropped"]
        metrics = json.loads((tmp_path / "out" / "judged.jsonl.llm-metrics.json").read_text())
        assert metrics["summary"]["llm_requests"] == 3 and len(metrics["requests"]) == 3
        assert {"prompt_tokens", "completion_tokens", "latency_s", "cost_usd", "attempt"} <= set(metrics["requests"][0])

        # the rebuild answers the first three from the cache and spends the budget on the next three
        proc = build()
        assert proc.returncode == 0, proc.stderr
        assert len(server.requests) == 6 and len(output.read_text().splitlines()) == 6
        assert re.search(r"llm_cache_hits\s+│\s+3", proc.stdout)


def test_the_judge_has_its_own_model_and_endpoint_and_sees_the_grounding_trace(tmp_path, monkeypatch):
    """The transcriber's endpoint comes from the environment; the judge's YAML names another
    server and model. The judge reads the grounding trace; its verdict and reason stay."""
    from llm_replies import INVENTED, from_evidence
    from test_llm_transcriber import interval

    from toolbox.core.config import PluginRef, plugin_options

    with FakeLLMServer(from_evidence) as small, FakeLLMServer() as judge_server:
        judge_server.responder = lambda body: Reply.json(
            {"score": 2 if "NOT FOUND" in body["messages"][-1]["content"] else 5, "reason": "checked the trace"}
        )
        monkeypatch.setenv("OPENAI_BASE_URL", small.url)
        monkeypatch.setenv("OPENAI_MODEL", "small-model")
        ctx = BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
        plugin, options = plugin_options(
            "transcribers", PluginRef.model_validate({"name": "openai", "on_ungrounded": "keep"}), "transcriber"
        )
        transcriber = plugin(options, ctx)
        [grounded] = list(transcriber.transcribe([interval(0)]))
        small.responder = lambda body: Reply.json(INVENTED)
        [invented] = list(transcriber.transcribe([interval(1)]))
        judge = LLMJudge(LLMJudge.Options(model="big-judge", base_url=judge_server.url, api_key="k"), ctx)
        out = list(judge.apply(iter([grounded, invented])))

    assert {r.body["model"] for r in small.requests} == {"small-model"}
    assert {r.body["model"] for r in judge_server.requests} == {"big-judge"} and len(judge_server.requests) == 2
    seen = [r.messages[-1]["content"] for r in judge_server.requests]
    good = next(text for text in seen if "NOT FOUND" not in text)
    assert re.search(r"GROUNDING: (\d+) of \1 checked values found in the evidence", good)
    assert '- "llama-7b 0" (call 1 do_the_work.text): typed, interval 0' in good
    assert "): screen, frame frames/000000.webp, interval 0" in good
    bad = next(text for text in seen if "NOT FOUND" in text)
    assert '- "llama2" (call 1 search_wandb_training_run.model_name): NOT FOUND' in bad
    kept, dropped = out
    assert kept.metadata["llm_judge"] == {"score": 5, "reason": "checked the trace", "model": "big-judge"}
    assert kept.metadata["grounding"]["share"] == 1.0
    assert isinstance(dropped, Dropped) and dropped.episode.metadata["llm_judge"]["score"] == 2
