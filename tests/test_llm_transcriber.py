"""The `openai` transcriber on Interval evidence, against the fake OpenAI-compatible server."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

from fake_llm_server import FakeLLMServer, Reply
from PIL import Image, ImageDraw

from toolbox.activity.models import Action, FrameRef, Interval
from toolbox.core import registry
from toolbox.core.config import PluginRef, plugin_options
from toolbox.core.models import EpisodeEvidence
from toolbox.core.plugin import BuildContext
from toolbox.ocr_engines.words import OcrWord

SEARCH = {
    "name": "search_wandb_training_run",
    "description": "Find a training run in Weights & Biases.",
    "parameters": {
        "type": "object",
        "properties": {"model_name": {"type": "string"}, "created_at": {"type": "string"}},
        "required": ["model_name"],
    },
}


def interval(i: int, frames: list[FrameRef] | None = None) -> Interval:
    start = 1000.0 + 30 * i
    words = [
        OcrWord(text=t, box=(10 * k, 10, 10 * k + 8, 20), conf=0.9, mid=(0.1 * k, 0.05))
        for k, t in enumerate(["Runs:", f"llama-7b-05{i}2", "finished"])
    ]
    return Interval(
        session_id="20260101T000000Z-test",
        session_path="/tmp/s",
        index=i,
        start=start,
        end=start + 12.5,
        task="find my llama training run",
        windows=["Runs - Weights & Biases - Chromium"],
        apps=["chromium"],
        actions=[
            Action(
                kind="click", t=start + 1, x=400, y=80, target="Search runs", title="Runs - Weights & Biases - Chromium"
            ),
            Action(kind="type", t=start + 2, text=f"llama-7b {i}", result=f"llama-7b-05{i}2 finished"),
        ],
        typed_text=f"llama-7b {i}",
        submitted=f"llama-7b {i}",
        screen_words=words,
        frames=frames or [],
        metadata=EpisodeEvidence(session="20260101T000000Z-test", interval=i, start=start, end=start + 12.5),
    )


def conversation(n: int, steps: int = 1, reasoning: bool = False) -> dict:
    step = {
        "function": SEARCH,
        "arguments": {"model_name": f"llama-7b {n}", "created_at": "2026-05"},
        "response": f"llama-7b-05{n}2 finished",
    }
    if reasoning:
        step = {"observation": "The runs page is open.", "thought": "Search for the run by name.", **step}
    return {
        "user_request": f"Find my llama-7b run number {n} from May",
        "steps": [step] * steps,
        "final_answer": f"Run llama-7b-05{n}2 has finished.",
    }


def echo_responder(body: dict) -> Reply:
    """A valid reply for whatever interval the request describes."""
    text = json.dumps(body["messages"])
    n = int(re.search(r"## Interval (\d+)", text).group(1))
    reasoning = "observation" in json.dumps(body["response_format"])
    return Reply.json(conversation(n, steps=text.count("## Interval"), reasoning=reasoning))


def transcriber(server: FakeLLMServer, tmp_path: Path, use_vision: bool = False, **options):
    ctx = BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "cache", use_vision=use_vision)
    ref = PluginRef.model_validate(
        {
            "name": "openai",
            "model": "test-model",
            "base_url": server.url,
            "api_key": "k",
            "backoff_base": 0.01,
            **options,
        }
    )
    plugin, opts = plugin_options("transcribers", ref, "transcriber")
    return plugin(opts, ctx)


def test_each_interval_becomes_a_goal_level_episode(fake_llm, tmp_path):
    fake_llm.responder = echo_responder
    t = transcriber(fake_llm, tmp_path)
    episodes = list(t.transcribe([interval(i) for i in range(3)]))
    assert [e.turns[0].content for e in episodes] == [f"Find my llama-7b run number {n} from May" for n in range(3)]
    first = episodes[0]
    assert [turn.role for turn in first.turns] == ["user", "assistant", "tool", "assistant"]
    call = first.turns[1].tool_calls[0]
    assert call.name == "search_wandb_training_run" and call.arguments["model_name"] == "llama-7b 0"
    assert first.tools[0].parameters["required"] == ["model_name"]
    assert first.turns[2].content == "llama-7b-0502 finished" and first.turns[2].tool_call_id == call.id
    assert first.source.session == "20260101T000000Z-test" and first.source.interval == (1000.0, 1012.5)
    assert first.metadata["model"] == "test-model" and first.metadata["interval"] == 0

    [request] = [r for r in fake_llm.requests if "## Interval 0" in r.text()]  # sent concurrently
    evidence = request.messages[1]["content"]
    for expected in (
        "find my llama training run",
        "Runs - Weights & Biases - Chromium",
        '"llama-7b 0"',
        "Runs: llama-7b-0502 finished",
        'click at (400, 80) on "Search runs"',
    ):
        assert expected in evidence
    assert request.body["response_format"]["json_schema"]["name"] == "Conversation"
    assert "search_wandb_training_run" in request.messages[0]["content"]  # the instructions' example

    # same inputs again: zero requests, same episodes
    again = list(transcriber(fake_llm, tmp_path).transcribe([interval(i) for i in range(3)]))
    assert len(fake_llm.requests) == 3 and again == episodes


def test_bad_function_names_and_arguments_are_re_asked_then_dropped(fake_llm, tmp_path):
    bad_name = conversation(0)
    bad_name["steps"][0]["function"] = {**SEARCH, "name": "search runs!"}
    bad_args = conversation(0)
    bad_args["steps"][0]["arguments"] = {"created_at": "May"}  # model_name is required
    fake_llm.script(
        Reply.json(bad_name), Reply.json(bad_args), Reply.json(conversation(0)), *[Reply.json(bad_args)] * 4
    )
    t = transcriber(fake_llm, tmp_path, concurrency=1)
    episodes = list(t.transcribe([interval(0), interval(1)]))
    assert len(episodes) == 1 and episodes[0].tools[0].name == "search_wandb_training_run"
    feedback = [r.messages[-1]["content"] for r in fake_llm.requests[1:3]]
    assert "must match ^[a-zA-Z0-9_-]{1,64}$" in feedback[0]
    assert "'model_name' is a required property" in feedback[1]
    assert dict(t.ctx.stats.dropped) == {("openai", "invalid reply"): 1}
    assert t.ctx.stats.dropped_episodes[0][0] == "20260101T000000Z-test/1"


def _frame(path: Path, size: tuple[int, int], fmt: str, t: float) -> FrameRef:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((20, 20), "Runs: llama-7b-0502 finished", fill="black")
    image.save(path, format=fmt)
    return FrameRef(path=str(path), t=t, width=size[0], height=size[1])


def _decoded(part: dict) -> tuple[str, Image.Image]:
    url = part["image_url"]["url"]
    mime, data = re.match(r"data:([^;]+);base64,(.*)", url).groups()
    return mime, Image.open(io.BytesIO(base64.b64decode(data)))


def test_vision_sends_downscaled_frames_with_their_mime_types(fake_llm, tmp_path):
    fake_llm.responder = echo_responder
    frames = [
        _frame(tmp_path / "000001.png", (1600, 1000), "PNG", 1001.0),
        _frame(tmp_path / "000002.webp", (800, 600), "WEBP", 1005.0),
        _frame(tmp_path / "000003.webp", (300, 200), "PNG", 1006.0),  # a PNG despite its name
        FrameRef(path=str(tmp_path / "missing.png"), t=1007.0, width=10, height=10),
    ]
    t = transcriber(fake_llm, tmp_path, vision=True, image_max_side=512, image_detail="low")
    [episode] = list(t.transcribe([interval(0, frames)]))
    content = fake_llm.requests[0].messages[1]["content"]
    assert content[0]["type"] == "text" and "llama-7b" in content[0]["text"]
    images = [_decoded(part) for part in content[1:]]
    assert [(mime, img.format, img.size) for mime, img in images] == [
        ("image/png", "PNG", (512, 320)),
        ("image/webp", "WEBP", (512, 384)),
        ("image/png", "PNG", (300, 200)),
    ]
    assert all(part["image_url"]["detail"] == "low" for part in content[1:])
    assert "screenshots" in fake_llm.requests[0].messages[0]["content"]
    assert t.ctx.stats.skipped["frames"] == 1 and "missing.png: frame not found" in t.ctx.stats.problems[0]

    fake_llm.requests.clear()  # without vision, text only
    list(transcriber(fake_llm, tmp_path).transcribe([interval(0, frames)]))
    assert isinstance(fake_llm.requests[0].messages[1]["content"], str)


def test_use_vision_switch_of_the_build(fake_llm, tmp_path):
    """`--use-vision` (or `use_vision: true`) turns vision on for a transcriber whose YAML says nothing."""
    fake_llm.responder = echo_responder
    frame = _frame(tmp_path / "f.webp", (200, 100), "WEBP", 1001.0)
    list(transcriber(fake_llm, tmp_path, use_vision=True).transcribe([interval(0, [frame])]))
    assert _decoded(fake_llm.requests[0].messages[1]["content"][1])[0] == "image/webp"


def test_reasoning_puts_a_thought_before_each_call(fake_llm, tmp_path):
    fake_llm.responder = echo_responder
    [episode] = list(transcriber(fake_llm, tmp_path, reasoning=True).transcribe([interval(0)]))
    schema = fake_llm.requests[0].body["response_format"]["json_schema"]["schema"]
    assert "observation" in json.dumps(schema)
    assistant = episode.turns[1]
    assert assistant.content == "The runs page is open. Search for the run by name." and assistant.tool_calls
    assert episode.metadata["reasoning"][0]["thought"] == "Search for the run by name."


def test_per_task_makes_one_episode_from_a_session(fake_llm, tmp_path):
    fake_llm.responder = echo_responder
    [episode] = list(transcriber(fake_llm, tmp_path, per="task").transcribe([interval(i) for i in range(3)]))
    assert len(fake_llm.requests) == 1
    assert episode.tool_call_count() == 3 and len(episode.tools) == 1
    assert episode.source.interval == (1000.0, 1072.5)
    assert (episode.metadata["intervals"], episode.metadata["start"], episode.metadata["end"]) == (
        [0, 1, 2],
        1000.0,
        1072.5,
    )
    assert "## Interval 2" in fake_llm.requests[0].messages[1]["content"]


def test_a_server_that_is_down_drops_items_without_crashing(tmp_path):
    with FakeLLMServer() as server:
        url = server.url
    ctx = BuildContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
    plugin = registry.get("transcribers", "openai")
    t = plugin(plugin.Options(model="m", base_url=url, api_key="k", max_retries=1, backoff_base=0.01), ctx)
    assert list(t.transcribe([interval(0), interval(1)])) == []
    assert dict(ctx.stats.dropped) == {("openai", "LLM unavailable"): 2}
    assert "APIConnectionError" in ctx.stats.dropped_episodes[0][3]


def test_shipped_llm_config_builds_the_sample_sessions_and_rebuilds_from_cache(tmp_path):
    """configs/llm.yaml as shipped (OCR off to keep the test fast), endpoint from the environment."""
    import os
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parent.parent
    config = yaml.safe_load((root / "configs" / "llm.yaml").read_text())
    config["datasets"][0]["path"] = str(root / "examples" / "sessions")
    config["tasks"][0]["ocr"] = None
    config["output"] = "out/llm.jsonl"
    (tmp_path / "llm.yaml").write_text(yaml.safe_dump(config))

    def responder(body: dict) -> Reply:
        if body["response_format"]["json_schema"]["name"] == "JudgeReply":
            return Reply.json({"score": 4, "reason": "coherent"})
        n = int(re.search(r"## Interval (\d+)", json.dumps(body["messages"])).group(1))
        return Reply.json(conversation(n))

    with FakeLLMServer(responder) as server:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}, "OPENAI_BASE_URL": server.url}
        command = [sys.executable, str(root / "build_data.py"), "--config", str(tmp_path / "llm.yaml")]
        first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr
        sent = len(server.requests)
        written = (tmp_path / "out" / "llm.jsonl").read_text()
        rows = [json.loads(line) for line in written.splitlines()]
        assert rows and all(row["tools"][0]["function"]["name"] == "search_wandb_training_run" for row in rows)
        assert sent >= 2 * len(rows)  # every kept episode was transcribed and judged
        assert (tmp_path / "out" / "llm.jsonl.llm-metrics.json").exists()
        second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
        assert len(server.requests) == sent  # a rebuild makes zero requests
        assert (tmp_path / "out" / "llm.jsonl").read_text() == written
