"""The offline transcriber: typed commands, chat replies, and one episode per task."""

import json
import subprocess
import sys
from pathlib import Path

from toolbox.activity.models import Action, Interval
from toolbox.core import registry
from toolbox.core.models import EpisodeEvidence
from toolbox.core.plugin import BuildContext

ROOT = Path(__file__).resolve().parent.parent


def transcriber(**options):
    cls = registry.get("transcribers", "heuristic")
    return cls(cls.Options(**options), BuildContext())


def interval(index: int, app: str, text: str, task: str | None = "Reply to Ann") -> Interval:
    t = 100.0 + index * 10
    return Interval(
        session_id="s",
        session_path="/tmp/s",
        index=index,
        start=t,
        end=t + 5,
        task=task,
        apps=[app],
        windows=[f"{app} window"],
        submitted=text,
        metadata=EpisodeEvidence(session="s", interval=index, start=t, end=t + 5),
        actions=[
            Action(kind="click", t=t, x=5, y=6, target="Message", result="Message box focused"),
            Action(kind="type", t=t + 1, text=text, result=text),
            Action(kind="hotkey", t=t + 2, keys=["enter"], result=f"{text}\nsent"),
        ],
    )


def calls(episode):
    return [(c.name, c.arguments) for turn in episode.turns for c in turn.tool_calls]


def test_a_message_sent_in_a_chat_app_is_the_final_answer():
    [episode] = transcriber(per="interval").transcribe([interval(0, "Slack", "See you at 5")])
    assert calls(episode) == [("click", {"target": "Message", "x": 5, "y": 6})]
    assert episode.turns[-1].content == "See you at 5"


def test_a_command_entered_in_a_terminal_is_a_call_whose_result_is_its_output():
    [episode] = transcriber(per="interval").transcribe([interval(0, "XTerm", "ls -l")])
    assert calls(episode)[1] == ("type_text", {"text": "ls -l\n"})
    results = [t.content for t in episode.turns if t.role == "tool"]
    assert results[1] == "ls -l\nsent"  # the screen after Enter, not before it
    assert episode.turns[-1].content.startswith("Done: clicked 'Message'; entered \"ls -l\"")


def test_per_task_joins_the_intervals_of_a_task_into_one_episode():
    intervals = [interval(0, "XTerm", "cd src"), interval(1, "XTerm", "make"), interval(2, "XTerm", "ls", task="Other")]
    episodes = list(transcriber(per="task").transcribe(intervals))
    assert [e.turns[0].content for e in episodes] == ["Reply to Ann", "Other"]
    assert [c[1].get("text") for c in calls(episodes[0]) if c[0] == "type_text"] == ["cd src\n", "make\n"]
    assert episodes[0].source.interval == (100.0, 115.0)
    assert episodes[0].metadata["intervals"] == [0, 1]


def test_a_long_task_is_split_into_parts_that_say_they_continue_it():
    intervals = [interval(i, "XTerm", f"cmd{i}") for i in range(5)]  # 3 actions each
    episodes = list(transcriber(per="task", max_task_actions=6).transcribe(intervals))
    assert [e.turns[0].content for e in episodes] == [
        "Reply to Ann",
        "Reply to Ann (continued)",
        "Reply to Ann (continued)",
    ]
    assert [len(calls(e)) for e in episodes] == [4, 4, 2]  # typing + Enter is one call
    assert [e.metadata["intervals"] for e in episodes[:2]] == [[0, 1], [2, 3]]


def test_auto_joins_labelled_intervals_and_keeps_unlabelled_ones_apart():
    intervals = [
        interval(0, "XTerm", "a", task=None),
        interval(1, "XTerm", "b", task=None),
        interval(2, "XTerm", "c"),
        interval(3, "XTerm", "d"),
    ]
    episodes = list(transcriber().transcribe(intervals))
    assert [len(calls(e)) for e in episodes] == [2, 2, 4]
    assert episodes[0].turns[0].content == "Continue the work in the window 'XTerm window'."


def test_the_demo_session_as_one_task_episode(tmp_path):
    config = tmp_path / "task.yaml"
    config.write_text(
        f"datasets: [{{name: sessions, path: {ROOT / 'examples/sessions'}}}]\n"
        "tasks:\n  - name: interval_episodes\n    transcriber: {name: heuristic, per: task}\n    ocr: tesseract\n"
        f"format: sharegpt\noutput: out.jsonl\ncache_dir: {ROOT / '.cache/datamakr'}\n"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    [row] = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    commands = [
        json.loads(m["value"])["arguments"]["text"]
        for m in row["conversations"]
        if m["from"] == "function_call" and json.loads(m["value"])["name"] == "type_text"
    ]
    assert commands[:4] == [
        "mkdir -p greetings && cd greetings\n",
        'echo "Hello, world" > hello.txt\n',
        "cat hello.txt\n",
        "ls -l\n",
    ]
    observations = [m["value"] for m in row["conversations"] if m["from"] == "observation"]
    assert any("Hello, world" in o for o in observations)


def test_a_paste_with_known_text_is_a_paste_call_every_format_accepts():
    from toolbox.core import registry as reg

    pasted = Action(kind="hotkey", t=101.0, keys=["ctrl", "v"], shortcut="paste", text="INV-20931")
    unknown = Action(kind="hotkey", t=102.0, keys=["ctrl", "v"], shortcut="paste")
    item = interval(0, "Mousepad", "x").model_copy(update={"actions": [pasted, unknown], "submitted": None})
    [episode] = transcriber(per="interval").transcribe([item])
    assert calls(episode) == [("paste", {"text": "INV-20931"}), ("press_keys", {"keys": ["ctrl", "v"]})]
    for name in ("openai", "sharegpt", "glaive"):
        fmt = reg.get("formats", name)(None, BuildContext())
        assert fmt.validate(fmt.encode(episode)) == []
