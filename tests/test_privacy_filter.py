"""The `redact` filter rewrites every text of an episode with one map per episode, and works
from a YAML build end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn
from toolbox.core.plugin import BuildContext
from toolbox.core.registry import get
from toolbox.privacy import RedactionOptions

ROOT = Path(__file__).resolve().parent.parent
KEY = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"


def episode(i: int, email: str) -> Episode:
    return Episode(
        id=f"e{i}",
        system=f"You help {email}.",
        tools=[ToolSpec(name="send_mail", description="Send an e-mail")],
        turns=[
            Turn(role="user", content=f"Mail {email} my GitHub token {KEY}"),
            Turn(
                role="assistant",
                tool_calls=[
                    ToolCall(
                        id="c1",
                        name="send_mail",
                        arguments={
                            "to": [email],
                            "body": {"text": f"token {KEY}", "card": "4111 1111 1111 1111"},
                            "password": "plainword",
                            "count": 3,
                        },
                    )
                ],
            ),
            Turn(role="tool", tool_call_id="c1", name="send_mail", content=f"sent to {email}"),
            Turn(role="assistant", content="Done; I used plainword to sign in."),
        ],
        source=Source(dataset="test"),
        metadata={"windows": [f"Inbox - {email} - Mail"], "ocr": [{"text": email, "box": [1, 2, 3, 4]}]},
    )


def run_filter(episodes: list[Episode], **options: object) -> tuple[list[Episode], BuildContext]:
    cls = get("filters", "redact")
    ctx = BuildContext()
    flt = cls(cls.Options(**options), ctx)
    return [e for e in flt.apply(iter(episodes)) if isinstance(e, Episode)], ctx


def test_every_text_of_the_episode_is_redacted_consistently() -> None:
    (out,), ctx = run_filter([episode(1, "alice@example.com")])
    dump = out.model_dump_json()
    for secret in ("alice@example.com", KEY, "4111 1111 1111 1111", "plainword"):
        assert secret not in dump
    assert out.system == "You help [EMAIL_1]."
    assert out.turns[0].content == "Mail [EMAIL_1] my GitHub token [API_KEY_1]"
    args = out.turns[1].tool_calls[0].arguments
    assert args == {
        "to": ["[EMAIL_1]"],
        "body": {"text": "token [API_KEY_1]", "card": "[CARD_1]"},
        "password": "[PASSWORD]",
        "count": 3,
    }
    assert out.turns[2].content == "sent to [EMAIL_1]"
    # the password argument is remembered, so it also goes where it appears in plain words
    assert out.turns[3].content == "Done; I used [PASSWORD] to sign in."
    assert out.metadata["windows"] == ["Inbox - [EMAIL_1] - Mail"]
    assert out.metadata["ocr"] == [{"text": "[EMAIL_1]", "box": [1, 2, 3, 4]}]
    assert out.metadata["redactions"] == {"api_key": 2, "card": 1, "email": 6, "password": 2}
    assert ctx.stats.extra["redactions"] == out.metadata["redactions"]


def test_numbering_starts_over_for_each_episode() -> None:
    out, _ = run_filter([episode(1, "alice@example.com"), episode(2, "bob@example.org")])
    assert out[0].system == out[1].system == "You help [EMAIL_1]."


def test_switched_off_kinds_pass_through() -> None:
    (out,), _ = run_filter([episode(1, "alice@example.com")], emails=False)
    assert out.system == "You help alice@example.com."
    assert KEY not in out.model_dump_json()


def test_yaml_build_writes_no_secret(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"My card is 5555 5555 5555 4444, phone +44 20 7946 0958, key {KEY}"},
                {"role": "assistant", "content": "Noted, I will call +44 20 7946 0958."},
            ]
        },
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "exp.yaml").write_text(
        "datasets:\n  - name: file\n    path: in.jsonl\nfilters:\n  - redact:\n      phone_region: GB\nformat: openai\noutput: out.jsonl\n"
    )
    run = subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), "--config", str(tmp_path / "exp.yaml"), "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    written = (tmp_path / "out.jsonl").read_text()
    assert "5555 5555" not in written and "7946" not in written and KEY not in written
    messages = json.loads(written.splitlines()[0])["messages"]
    assert messages[0]["content"] == "My card is [CARD_1], phone [PHONE_1], key [API_KEY_1]"
    assert messages[1]["content"] == "Noted, I will call [PHONE_1]."


def test_bad_option_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text("")
    (tmp_path / "exp.yaml").write_text(
        "datasets:\n  - name: file\n    path: in.jsonl\nfilters:\n  - redact:\n      email: false\n"
    )
    run = subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), "--config", str(tmp_path / "exp.yaml"), "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode != 0
    assert "email" in run.stderr and "emails" in run.stderr
    assert RedactionOptions().emails
