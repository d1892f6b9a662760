"""The `synthetic` dataset: grid sampling, batches, resume after Ctrl+C, budget, custom parsers."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_llm_server import FakeLLMServer, Reply

from toolbox.core.config import ConfigError
from toolbox.core.plugin import BuildContext
from toolbox.datasets.synthetic import Synthetic

ROOT = Path(__file__).resolve().parent.parent

GRID = {
    "categories": {
        "api": [
            {"name": "book_room", "description": "Book a room."},
            {"name": "send_invoice", "description": "Send an invoice."},
        ],
        "persona": ["an engineer", "a manager", "a shop owner"],
    },
    "generators": {
        "phone": {"type": "phone"},
        "date": {"type": "date", "start": "2026-01-01", "end": "2026-01-31"},
        "order": {"type": "pattern", "pattern": "ORD-####-??"},
        "n": {"type": "int", "min": 1, "max": 3},
    },
}
TEMPLATE = "Persona: {persona}. Function: {api.name}. Phone: {phone}. Date: {date}. Order: {order}. Count: {n}."


def conversation_for(body: dict) -> Reply:
    """A valid conversation that repeats the sample's parameters from the prompt."""
    prompt = body["messages"][-1]["content"]
    name = re.search(r"Function: (\w+)", prompt).group(1)
    order = re.search(r"Order: (\S+)\.", prompt).group(1)
    return Reply.json(
        {
            "user_request": f"Please handle {order} ({prompt})",
            "steps": [
                {
                    "function": {
                        "name": name,
                        "description": "Does it.",
                        "parameters": {
                            "type": "object",
                            "properties": {"order": {"type": "string"}},
                            "required": ["order"],
                        },
                    },
                    "arguments": {"order": order},
                    "response": f"{order}: done",
                }
            ],
            "final_answer": f"{order} is handled.",
        },
        usage=(1000, 1000),
    )


def dataset(server: FakeLLMServer, tmp_path: Path, seed: int = 0, **options) -> Synthetic:
    ctx = BuildContext(seed=seed, base_dir=tmp_path, cache_dir=tmp_path / "cache")
    opts = {
        "model": "m",
        "base_url": server.url,
        "api_key": "k",
        "grid": GRID,
        "template": TEMPLATE,
        "samples": 7,
        "batch_size": 3,
        "backoff_base": 0.01,
        **options,
    }
    return Synthetic(Synthetic.Options.model_validate(opts), ctx)


def test_samples_are_drawn_from_the_grid_with_the_seed(fake_llm, tmp_path):
    fake_llm.responder = conversation_for
    episodes = list(dataset(fake_llm, tmp_path).records())
    assert len(episodes) == 7 and len({e.id for e in episodes}) == 7
    assert [e.metadata["synthetic"]["index"] for e in episodes] == list(range(7))
    for episode in episodes:
        params = episode.metadata["synthetic"]["params"]
        assert params["persona"] in GRID["categories"]["persona"] and params["api"]["name"] == episode.tools[0].name
        assert re.fullmatch(r"\+1-\d{3}-\d{3}-\d{4}", params["phone"]) and re.fullmatch(
            r"ORD-\d{4}-[A-Z]{2}", params["order"]
        )
        assert dt.date(2026, 1, 1) <= dt.date.fromisoformat(params["date"]) <= dt.date(2026, 1, 31)
        assert episode.turns[1].tool_calls[0].arguments == {"order": params["order"]}
    prompts = [r.messages[-1]["content"] for r in fake_llm.requests]
    assert all(p.startswith("Persona: ") for p in prompts) and len(set(prompts)) == 7
    assert fake_llm.requests[0].body["response_format"]["json_schema"]["name"] == "Conversation"

    same = [e.metadata["synthetic"]["params"] for e in dataset(fake_llm, tmp_path / "again").records()]
    other = [e.metadata["synthetic"]["params"] for e in dataset(fake_llm, tmp_path / "other", seed=1).records()]
    assert same == [e.metadata["synthetic"]["params"] for e in episodes] and other != same


def test_budget_stop_keeps_finished_batches_and_a_rerun_continues(fake_llm, tmp_path):
    fake_llm.responder = conversation_for  # $0.002 per reply at $1 per 1M tokens
    prices = {"m": {"input": 1.0, "output": 1.0}}
    first = dataset(
        fake_llm, tmp_path, samples=8, batch_size=2, concurrency=1, max_tokens=1000, budget_usd=0.0105, prices=prices
    )
    episodes = list(first.records())
    assert len(episodes) == 5 and len(fake_llm.requests) == 5
    assert first.ctx.stats.extra["budget_stopped"] is True
    assert sorted(p.name for p in first.folder.glob("batch-*")) == ["batch-000000.jsonl", "batch-000001.jsonl"]
    assert dict(first.ctx.stats.dropped) == {("synthetic", "budget reached"): 3}

    rerun = dataset(
        fake_llm, tmp_path, samples=8, batch_size=2, concurrency=1, max_tokens=1000, budget_usd=1.0, prices=prices
    )
    again = list(rerun.records())
    assert [e.id for e in again[:5]] == [e.id for e in episodes] and len(again) == 8
    assert len(fake_llm.requests) == 8  # 4 from batches, 1 from the reply cache, 3 new
    assert rerun.ctx.stats.extra["synthetic_batches_resumed"] == 2 and rerun.ctx.stats.extra["llm_cache_hits"] == 1


def test_an_interrupted_run_resumes_without_duplicates(tmp_path):
    with FakeLLMServer(conversation_for, delay=0.1) as server:
        (tmp_path / "grid.yaml").write_text(json.dumps(GRID))
        (tmp_path / "synth.yaml").write_text(f"""
datasets:
  - name: synthetic
    model: m
    base_url: {server.url}
    grid: grid.yaml
    template: "{TEMPLATE}"
    samples: 40
    batch_size: 5
    concurrency: 2
    cache: false
format: sharegpt
output: out/synth.jsonl
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        command = [sys.executable, str(ROOT / "build_data.py"), "--config", str(tmp_path / "synth.yaml")]
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        batches = tmp_path / ".cache" / "datamakr" / "synthetic"
        deadline = time.monotonic() + 60
        while len(list(batches.glob("*/batch-*.jsonl"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode != 0 and "KeyboardInterrupt" in stderr
        assert not (tmp_path / "out" / "synth.jsonl").exists()
        saved = len(list(batches.glob("*/batch-*.jsonl")))
        assert 2 <= saved < 8
        sent_before = len(server.requests)

        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in (tmp_path / "out" / "synth.jsonl").read_text().splitlines()]
        requests = [row["conversations"][0]["value"] for row in rows]
        assert len(rows) == 40 and len(set(requests)) == 40
        assert len(server.requests) - sent_before == 40 - 5 * saved  # finished batches are not asked again
        assert re.search(rf"synthetic_batches_resumed\s+│\s+{saved}", done.stdout)


def test_a_custom_completion_parser(fake_llm, tmp_path):
    (tmp_path / "qa_parser.py").write_text("""
def parse(text, params):
    question, sep, answer = text.partition("\\nA: ")
    if not question.startswith("Q: ") or not sep:
        raise ValueError("expected 'Q: ...' then 'A: ...'")
    call = {"function": {"name": params["api"]["name"], "description": "d", "parameters": {"type": "object"}},
            "arguments": {}, "response": "ok"}
    return {"user_request": question[3:], "steps": [call], "final_answer": answer}
""")
    fake_llm.script(Reply.text("Sure!"), Reply.text("Q: book it\nA: booked"))
    [episode] = list(dataset(fake_llm, tmp_path, samples=1, parser="qa_parser.py:parse").records())
    assert episode.turns[0].content == "book it" and episode.turns[-1].content == "booked"
    assert "response_format" not in fake_llm.requests[0].body
    assert "expected 'Q: ...' then 'A: ...'" in fake_llm.requests[1].messages[-1]["content"]


def test_config_mistakes_are_one_line_errors(fake_llm, tmp_path):
    with pytest.raises(ConfigError, match=r"template: unknown field 'city' \(grid has: api, .*persona"):
        dataset(fake_llm, tmp_path, template="Go to {city}")
    (tmp_path / "grid.yaml").write_text(
        "categories:\n  api: [a, b]\ngenerators:\n  d: {type: date, start: 2026-01-01}\n"
    )
    with pytest.raises(ConfigError, match=r"grid.yaml: generators.d.date.end: Field required"):
        dataset(fake_llm, tmp_path, grid="grid.yaml", template="{api}")
    with pytest.raises(ConfigError, match="parser: file not found"):
        dataset(fake_llm, tmp_path, parser="nope.py:parse")
