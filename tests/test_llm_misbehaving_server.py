"""The LLM layer against servers that misbehave: drip bytes, answer 200 with something that is
not a chat completion, ask to wait, or report absurd token counts."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

import pytest
from fake_llm_server import FakeLLMServer, Reply
from test_llm_layer import GOOD, ask, make_client
from time_limit import time_limit

from toolbox.llm.structured import ReplyInvalid, json_text

ROOT = Path(__file__).resolve().parent.parent
CHAT = {"index": 0, "finish_reason": "stop"}


def test_a_dripping_server_is_cut_at_the_total_deadline(fake_llm, tmp_path):
    # ~400 bytes at one per 50 ms: 20 s for a reply whose every single read takes 50 ms
    fake_llm.script(Reply.json(GOOD, drip=0.05), Reply.json(GOOD))
    client = make_client(fake_llm, tmp_path, timeout=1.0, max_retries=1)
    started = time.monotonic()
    result = ask(client)
    elapsed = time.monotonic() - started
    assert result.ok  # the retry, on a fresh connection, gets the good reply
    assert [r.outcome for r in client.runtime.metrics.records] == ["transient", "ok"]
    assert "Timeout" in client.runtime.metrics.records[0].error
    assert elapsed < 5, elapsed  # the deadline (1 s) plus a retry, not the 20 s drip


def test_a_dripping_server_without_retries_fails_the_item_in_time(fake_llm, tmp_path):
    fake_llm.script(Reply.json(GOOD, drip=0.05))
    client = make_client(fake_llm, tmp_path, timeout=0.5, max_retries=0)
    started = time.monotonic()
    result = ask(client)
    assert time.monotonic() - started < 4
    assert result.failure == "LLM unavailable" and "Timeout" in result.detail


MALFORMED = {
    "html page": Reply.raw_body("<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"),
    "html labelled json": Reply.raw_body("<html>upstream error</html>"),
    "json array": Reply.raw_body('[{"choices": []}]'),
    "message not an object": Reply.json(GOOD, patch={"choices": [{**CHAT, "message": "a plain string"}]}),
    "error object": Reply.raw_body('{"error": {"message": "quota exceeded"}}'),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_200_that_is_not_a_chat_completion_fails_that_item_only(fake_llm, tmp_path, caplog, case):
    fake_llm.script(MALFORMED[case], Reply.json(GOOD))
    client = make_client(fake_llm, tmp_path, prices={"test-model": {"input": 1.0, "output": 1.0}})
    with caplog.at_level(logging.WARNING, logger="datamakr"):
        bad = ask(client, "item-bad", "one")
    good = ask(client, "item-good", "two")
    assert bad.failure == "malformed reply" and "not" in bad.detail and good.ok
    assert len(fake_llm.requests) == 2  # not re-asked or retried
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("test: item-bad: malformed reply: the HTTP 200 body") and "\n" not in line
    summary = client.runtime.metrics.summary()
    assert summary["llm_failures"] == {"malformed reply": 1} and summary["llm_items_ok"] == 1
    assert summary["llm_cost_usd"] > 0  # the server may have run the model: the estimate is spent
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1  # only the good reply is cached


@pytest.mark.parametrize(
    "usage", ["lots", {"prompt_tokens": "many", "completion_tokens": 3}, [1, 2], {"completion_tokens": -5}]
)
def test_an_unusable_usage_is_counted_here_and_the_reply_kept(fake_llm, tmp_path, usage):
    fake_llm.script(Reply.json(GOOD, patch={"usage": usage}))
    client = make_client(fake_llm, tmp_path, prices={"test-model": {"input": 1.0, "output": 1.0}})
    assert ask(client).ok
    [record] = client.runtime.metrics.records
    assert record.usage_estimated and record.prompt_tokens > 0 and record.completion_tokens > 0


def write_episodes(path: Path, n: int) -> None:
    from episodes import sample_episode

    from toolbox.formats.openai import OpenAIFormat

    path.write_text(
        "".join(
            json.dumps(OpenAIFormat().encode(sample_episode(i, f"request number {i} about llama runs"))) + "\n"
            for i in range(n)
        )
    )


def test_a_build_goes_on_past_malformed_replies_and_counts_them(tmp_path):
    bad = {1: MALFORMED["html page"], 2: MALFORMED["json array"], 3: MALFORMED["message not an object"]}

    def responder(body: dict) -> Reply:
        n = int(re.search(r"request number (\d+)", body["messages"][-1]["content"]).group(1))
        return bad.get(n) or Reply.json({"score": 5, "reason": "good"}, patch={"usage": "n/a"} if n == 4 else {})

    write_episodes(tmp_path / "in.jsonl", 6)
    with FakeLLMServer(responder) as server:
        (tmp_path / "judge.yaml").write_text(f"""
datasets: [{{name: file, path: in.jsonl}}]
filters:
  - {{name: llm_judge, model: local-model, base_url: {server.url}, concurrency: 2}}
format: openai
output: out/judged.jsonl
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        proc = subprocess.run(
            [sys.executable, str(ROOT / "build_data.py"), "--config", str(tmp_path / "judge.yaml")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len((tmp_path / "out" / "judged.jsonl").read_text().splitlines()) == 3
    stats = json.loads((tmp_path / "out" / "judged.jsonl.stats.json").read_text())
    assert {"filter": "llm_judge", "reason": "not judged: malformed reply", "count": 3} in stats["dropped"]
    assert stats["llm_failures"] == {"malformed reply": 3}
    warnings = [line for line in proc.stderr.splitlines() if "malformed reply" in line]
    assert len(warnings) == 3 and all("llm_judge: " in line for line in warnings)


def test_retry_after_is_honoured_beyond_backoff_max(fake_llm, tmp_path):
    client = make_client(fake_llm, tmp_path, max_retries=2)  # backoff_max 0.05 s
    fake_llm.script(Reply.error(429, headers={"retry-after": "1"}), Reply.json(GOOD))
    started = time.monotonic()
    assert ask(client, "a", "one").ok
    assert time.monotonic() - started >= 1.0

    fake_llm.script(Reply.error(503, headers={"retry-after-ms": "700"}), Reply.json(GOOD))
    started = time.monotonic()
    assert ask(client, "b", "two").ok
    assert time.monotonic() - started >= 0.7

    fake_llm.script(
        Reply.error(429, headers={"retry-after": formatdate(time.time() + 2, usegmt=True)}), Reply.json(GOOD)
    )
    started = time.monotonic()
    assert ask(client, "c", "three").ok
    assert time.monotonic() - started >= 0.9  # an HTTP date, to the second
    assert len(fake_llm.requests) == 6


def test_a_retry_after_beyond_any_build_fails_the_item_at_once(fake_llm, tmp_path):
    client = make_client(fake_llm, tmp_path, max_retries=5)
    fake_llm.script(Reply.error(429, "daily quota exhausted", headers={"retry-after": "86400"}))
    started = time.monotonic()
    result = ask(client)
    assert time.monotonic() - started < 2
    assert result.failure == "LLM unavailable" and "retry after 86400 s" in result.detail
    assert "daily quota exhausted" in result.detail
    assert len(fake_llm.requests) == 1


def test_absurd_token_counts_cannot_overrun_the_budget(fake_llm, tmp_path, caplog):
    # $2 per million tokens each way; 5M completion tokens would cost $10 per reply
    fake_llm.responder = lambda body: Reply.json(GOOD, usage=(5_000_000, 5_000_000))
    client = make_client(
        fake_llm, tmp_path, budget_usd=0.05, max_tokens=300, prices={"test-model": {"input": 2.0, "output": 2.0}}
    )
    with caplog.at_level(logging.WARNING, logger="datamakr"):
        results = [ask(client, f"i{i}", f"text {i}") for i in range(5)]
    assert all(r.ok for r in results)
    for record in client.runtime.metrics.records:
        assert record.completion_tokens == 300 and record.prompt_tokens < 2000
    assert client.runtime.stats.extra["llm_cost_usd"] <= 0.05
    assert "counting at most what was asked for" in caplog.text and caplog.text.count("said once") == 1


def test_a_huge_reply_is_read_in_linear_time():
    # an opening fence then 200,000 blank lines took minutes (each blank line given back one at a time)
    for reply in ("```" + "\n" * 200_000, "```json" + " " * 200_000 + "{}", "```" + "``` x" * 50_000):
        with time_limit(2), pytest.raises(ReplyInvalid):
            json_text(reply)
    assert json_text("```json\n" + "\n" * 100_000 + '{"score": 4}\n```\n') == {"score": 4}
