"""The LLM seam of the `openai` transcriber: every request's text redacted with the interval
task's options, and the reply cache keyed on the redacted body."""

from __future__ import annotations

import json
from pathlib import Path

from fake_llm_server import FakeLLMServer, Reply

from toolbox.activity.models import Action, Interval
from toolbox.core.config import PluginRef, plugin_options
from toolbox.core.plugin import BuildContext
from toolbox.privacy import RedactionOptions, Redactor

EMAIL = "erin.cache@example.net"
REPLY = {
    "user_request": "Write to Erin",
    "steps": [
        {
            "function": {
                "name": "send_mail",
                "description": "Send a mail.",
                "parameters": {"type": "object", "properties": {}},
            },
            "arguments": {},
            "response": "sent",
        }
    ],
    "final_answer": "Done.",
}


def interval() -> Interval:
    # evidence as a task that forgot to redact would hand it over: the seam must catch it
    return Interval(
        session_id="s",
        session_path="/tmp/s",
        index=0,
        start=0.0,
        end=5.0,
        windows=["Compose - Mail"],
        actions=[Action(kind="type", t=1.0, text=f"mail {EMAIL} the key sk_live_4eC39HqLyjWDarjtT1zdp7dc")],
        typed_text=f"mail {EMAIL}",
    )


def transcriber(server: FakeLLMServer, cache: Path, redactor: Redactor | None):
    ctx = BuildContext(base_dir=cache.parent, cache_dir=cache)
    ref = PluginRef.model_validate(
        {"name": "openai", "model": "m", "base_url": server.url, "api_key": "k", "backoff_base": 0.01}
    )
    plugin, options = plugin_options("transcribers", ref, "transcriber")
    t = plugin(options, ctx)
    t.use_redactor(redactor)
    return t


def test_request_text_is_redacted_and_cache_holds_only_redacted_text(fake_llm, tmp_path):
    fake_llm.responder = lambda body: Reply.json(REPLY)
    cache = tmp_path / "cache"
    list(transcriber(fake_llm, cache, Redactor()).transcribe([interval()]))
    sent = fake_llm.requests[0].text()
    assert EMAIL not in sent and "sk_live_4eC39" not in sent and "[EMAIL_1]" in sent and "[API_KEY_1]" in sent
    files = list((cache / "llm").rglob("*.json"))
    assert files and not any(EMAIL in f.read_text() for f in files)


def test_redaction_settings_change_the_cache_key(fake_llm, tmp_path):
    fake_llm.responder = lambda body: Reply.json(REPLY)
    cache = tmp_path / "cache"
    list(transcriber(fake_llm, cache, Redactor()).transcribe([interval()]))
    list(transcriber(fake_llm, cache, Redactor()).transcribe([interval()]))
    assert len(fake_llm.requests) == 1  # same settings: the second build is served from the cache
    list(transcriber(fake_llm, cache, Redactor(RedactionOptions(emails=False))).transcribe([interval()]))
    assert len(fake_llm.requests) == 2  # e-mails kept: another request body, another key
    assert EMAIL in fake_llm.requests[1].text() and "sk_live_4eC39" not in fake_llm.requests[1].text()
    list(transcriber(fake_llm, cache, None).transcribe([interval()]))
    assert len(fake_llm.requests) == 3 and "sk_live_4eC39" in fake_llm.requests[2].text()  # redact: false
    assert len(list((cache / "llm").rglob("*.json"))) == 3


def test_placeholders_added_at_the_seam_do_not_collide_with_earlier_ones(fake_llm, tmp_path):
    t = transcriber(fake_llm, tmp_path / "cache", Redactor())
    messages = [{"role": "user", "content": f"[EMAIL_1] wrote; now {EMAIL}"}]
    assert t.redact_messages(messages)[0]["content"] == "[EMAIL_1] wrote; now [EMAIL_2]"
    assert json.dumps(messages).count(EMAIL) == 1  # the caller's list is left alone
