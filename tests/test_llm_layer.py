"""The LLM layer against a real HTTP server through the real `openai` client."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fake_llm_server import FakeLLMServer, Reply
from pydantic import BaseModel, Field

from toolbox.core.config import ConfigError
from toolbox.core.plugin import BuildContext
from toolbox.llm import LLMClient, LLMOptions, model_parser, response_format
from toolbox.llm.runtime import metrics_path


class Verdict(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str


GOOD = {"score": 4, "reason": "fine"}


def make_client(server: FakeLLMServer, tmp_path: Path, ctx: BuildContext | None = None, **options) -> LLMClient:
    ctx = ctx or BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    opts = {
        "model": "test-model",
        "base_url": server.url,
        "api_key": "sk-test",
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        **options,
    }
    return LLMClient(LLMOptions.model_validate(opts), ctx, purpose="test")


def ask(client: LLMClient, item: str = "item-1", text: str = "judge this"):
    return client.ask(
        [{"role": "user", "content": text}], model_parser(Verdict), item=item, response_format=response_format(Verdict)
    )


def test_valid_reply_is_parsed_and_request_carries_schema_and_key(fake_llm, tmp_path):
    fake_llm.script(Reply.json(GOOD))
    result = ask(make_client(fake_llm, tmp_path))
    assert result.ok and result.value == Verdict(**GOOD)
    [request] = fake_llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "test-model"
    schema = request.body["response_format"]["json_schema"]["schema"]
    assert request.body["response_format"]["type"] == "json_schema"
    assert schema["properties"]["score"]["maximum"] == 5


def test_invalid_replies_are_re_asked_with_the_error_then_skipped(fake_llm, tmp_path):
    fake_llm.script(Reply.text("Sure! Here you go"), Reply.json({"score": 9, "reason": "x"}), Reply.json(GOOD))
    client = make_client(fake_llm, tmp_path)
    result = ask(client)
    assert result.ok and result.value.score == 4
    assert len(fake_llm.requests) == 3
    second, third = fake_llm.requests[1].messages, fake_llm.requests[2].messages
    assert second[-2] == {"role": "assistant", "content": "Sure! Here you go"}
    assert "not valid JSON" in second[-1]["content"]
    assert "score" in third[-1]["content"] and "less than or equal to 5" in third[-1]["content"]

    fake_llm.script(*[Reply.json({"wrong": "shape"})] * 10)
    result = ask(client, item="item-2", text="another")
    assert result.failure == "invalid reply" and "score" in result.detail
    assert len(fake_llm.requests) == 3 + 4  # first ask + 3 re-asks (the default)
    summary = client.runtime.metrics.summary()
    assert summary["llm_items_ok"] == 1 and summary["llm_failures"] == {"invalid reply": 1}


def test_transient_errors_are_retried_and_other_4xx_fail_at_once(fake_llm, tmp_path):
    client = make_client(fake_llm, tmp_path, max_retries=2)
    fake_llm.script(Reply.error(429, headers={"retry-after": "0"}), Reply.error(503), Reply.json(GOOD))
    assert ask(client, "a", "one").ok
    assert len(fake_llm.requests) == 3

    fake_llm.script(*[Reply.error(500)] * 3)
    result = ask(client, "b", "two")
    assert result.failure == "LLM unavailable" and "HTTP 500" in result.detail
    assert len(fake_llm.requests) == 3 + 3  # 1 + max_retries

    fake_llm.script(Reply.error(400, "bad model name"))
    result = ask(client, "c", "three")
    assert result.failure == "request failed" and "bad model name" in result.detail
    assert len(fake_llm.requests) == 7
    assert client.runtime.stats.extra["llm_retries"] == 4


def test_slow_reply_times_out_and_is_retried(fake_llm, tmp_path):
    client = make_client(fake_llm, tmp_path, timeout=0.3)
    fake_llm.script(Reply.json(GOOD, delay=1.5), Reply.json(GOOD))
    assert ask(client).ok
    records = client.runtime.metrics.records
    assert [r.outcome for r in records] == ["transient", "ok"]
    assert "Timeout" in records[0].error


def test_cache_makes_a_rebuild_free_and_any_change_misses(fake_llm, tmp_path):
    fake_llm.responder = lambda body: Reply.json(GOOD)
    first = make_client(fake_llm, tmp_path)
    assert ask(first, "a", "one").ok and ask(first, "b", "two").ok
    assert len(fake_llm.requests) == 2
    cache_files = list((tmp_path / "cache" / "llm").rglob("*.json"))
    assert len(cache_files) == 2

    rebuild = make_client(fake_llm, tmp_path)  # a new build context, same cache folder
    assert ask(rebuild, "a", "one").value == Verdict(**GOOD)
    assert ask(rebuild, "b", "two").ok
    assert len(fake_llm.requests) == 2
    assert rebuild.runtime.stats.extra["llm_cache_hits"] == 2 and rebuild.runtime.stats.extra["llm_requests"] == 0

    for changed in ({"temperature": 0.9}, {"model": "other-model"}, {"max_tokens": 17}, {"extra_body": {"top_k": 5}}):
        assert ask(make_client(fake_llm, tmp_path, **changed), "a", "one").ok
    assert ask(make_client(fake_llm, tmp_path), "a", "one, changed").ok
    assert len(fake_llm.requests) == 2 + 5


def test_a_replayed_invalid_reply_comes_from_the_cache_too(fake_llm, tmp_path):
    fake_llm.script(Reply.text("not json"), Reply.json(GOOD))
    assert ask(make_client(fake_llm, tmp_path)).ok
    assert ask(make_client(fake_llm, tmp_path)).ok
    assert len(fake_llm.requests) == 2


def test_budget_stops_requests_before_the_cap(fake_llm, tmp_path, caplog):
    # $1 per million tokens each way; each reply costs 2000 tokens = $0.002
    fake_llm.responder = lambda body: Reply.json(GOOD, usage=(1000, 1000))
    client = make_client(
        fake_llm, tmp_path, budget_usd=0.005, max_tokens=1000, prices={"test-model": {"input": 1.0, "output": 1.0}}
    )
    with caplog.at_level(logging.WARNING, logger="datamakr"):
        results = [ask(client, f"i{i}", f"text {i}") for i in range(6)]
    assert [r.ok for r in results] == [True, True, False, False, False, False]
    assert results[2].failure == "budget reached"
    assert len(fake_llm.requests) == 2
    extra = client.runtime.stats.extra
    assert extra["budget_stopped"] is True and extra["llm_cost_usd"] == pytest.approx(0.004)
    assert "budget of $0.0050 reached" in caplog.text


def test_budget_needs_a_price_for_the_model(fake_llm, tmp_path):
    with pytest.raises(ConfigError, match="no price for model 'test-model'"):
        make_client(fake_llm, tmp_path, budget_usd=1.0)
    assert make_client(fake_llm, tmp_path, model="gpt-4o-mini-2024-07-18", budget_usd=1.0).endpoint.price.input == 0.15


def test_several_requests_in_flight_and_results_in_input_order(fake_llm, tmp_path):
    def responder(body):
        n = int(body["messages"][-1]["content"].split()[-1])
        return Reply.json({"score": 1 + n % 5, "reason": f"item {n}"}, delay=0.3 if n % 2 == 0 else 0.05)

    fake_llm.responder = responder
    client = make_client(fake_llm, tmp_path, concurrency=4)
    reasons = [r.value.reason for r in client.map(lambda n: ask(client, str(n), f"item {n}"), range(12))]
    assert reasons == [f"item {n}" for n in range(12)]
    assert fake_llm.max_in_flight == 4


def test_the_key_is_never_logged_cached_or_written(fake_llm, tmp_path, caplog):
    secret = "sk-live-DO-NOT-LEAK-1234567890"
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={secret}\nOPENAI_BASE_URL={fake_llm.url}\n")
    ctx = BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    options = LLMOptions(model="test-model", backoff_base=0.01, max_retries=1)
    fake_llm.script(Reply.error(401, "invalid key"), Reply.error(500), Reply.error(500), Reply.json(GOOD))
    with caplog.at_level(logging.DEBUG):
        client = LLMClient(options, ctx, purpose="test")
        results = [ask(client, "a", "one"), ask(client, "b", "two"), ask(client, "c", "three")]
        ctx.finish(tmp_path / "out.jsonl")
    assert [r.failure for r in results] == ["request failed", "LLM unavailable", None]
    assert all(r.headers["authorization"] == f"Bearer {secret}" for r in fake_llm.requests)  # sent...
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ".env"]
    assert metrics_path(tmp_path / "out.jsonl") in written and len(written) >= 2
    for path in written:  # ...and nowhere else
        assert secret not in path.read_text(errors="replace"), path
    assert secret not in caplog.text
    assert secret not in json.dumps(ctx.stats.to_dict(), default=str)
    assert secret not in repr(client.endpoint) + repr(options) + str([r.detail for r in results])
    assert "OPENAI_API_KEY" not in __import__("os").environ  # .env read, not exported


def test_environment_settings_are_used_when_the_config_has_none(fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    client = LLMClient(LLMOptions(), BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "c"), purpose="test")
    fake_llm.script(Reply.json(GOOD))
    assert ask(client).ok
    assert fake_llm.requests[0].body["model"] == "env-model"
    assert fake_llm.requests[0].headers["authorization"] == "Bearer sk-env"


def test_every_request_passes_the_prepare_messages_seam(fake_llm, tmp_path):
    from toolbox.llm import map_text

    ctx = BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    options = LLMOptions(model="m", base_url=fake_llm.url, api_key="k")
    redact = lambda messages: map_text(messages, lambda text: text.replace("alice@example.com", "[EMAIL]"))  # noqa: E731
    client = LLMClient(options, ctx, purpose="test", prepare=redact)
    fake_llm.script(Reply.text("no json for alice@example.com"), Reply.json(GOOD))
    assert ask(client, text="mail alice@example.com").ok
    for request in fake_llm.requests:  # the re-ask too, which quotes the model's reply
        assert "alice@example.com" not in json.dumps(request.body)
        assert "[EMAIL]" in request.text()


def test_server_without_usage_is_costed_from_counted_tokens(fake_llm, tmp_path):
    fake_llm.script(Reply.json(GOOD, usage=None))
    client = make_client(fake_llm, tmp_path, prices={"test-model": {"input": 1000.0, "output": 1000.0}})
    assert ask(client).ok
    [record] = client.runtime.metrics.records
    assert record.usage_estimated and record.prompt_tokens > 0 and record.completion_tokens > 0
    assert record.cost_usd > 0
