"""The offline transcriber: typed commands, chat replies, one episode per task, requests built from
what was done, and final answers that were sent, written down or read on the screen."""

import json
import subprocess
import sys
from pathlib import Path

from toolbox.activity.models import Action, Interval
from toolbox.core import registry
from toolbox.core.models import EpisodeEvidence
from toolbox.core.plugin import BuildContext
from toolbox.ocr_engines.words import OcrWord

ROOT = Path(__file__).resolve().parent.parent


def transcriber(**options):
    cls = registry.get("transcribers", "heuristic")
    return cls(cls.Options(**options), BuildContext())


def observed(title: str, screen: str) -> str:
    """A tool result as activity/screen.py writes it: the window's lines, all of them new."""
    return f'Window "{title}" (+ appeared):\n' + "\n".join(f"+ {line}" for line in screen.splitlines())


def interval(
    index: int,
    app: str,
    text: str,
    task: str | None = "Reply to Ann",
    title: str | None = None,
    result: str | None = None,
) -> Interval:
    """A click, `text` typed and Enter in one window; `result` is the screen after Enter."""
    t = 100.0 + index * 10
    title = title or f"{app} window"
    return Interval(
        session_id="s",
        session_path="/tmp/s",
        index=index,
        start=t,
        end=t + 5,
        task=task,
        apps=[app],
        windows=[title],
        submitted=text,
        metadata=EpisodeEvidence(session="s", interval=index, start=t, end=t + 5),
        actions=[
            Action(kind="click", t=t, x=5, y=6, target="Message", result=observed(title, "Message"), title=title),
            Action(kind="type", t=t + 1, text=text, result=observed(title, text), title=title),
            Action(
                kind="hotkey", t=t + 2, keys=["enter"], result=observed(title, result or f"{text}\nsent"), title=title
            ),
        ],
    )


def typing(index: int, app: str, title: str, text: str, task: str | None, result: str | None = None) -> Interval:
    """`text` typed (no Enter) into a window, then a click elsewhere."""
    t = 100.0 + index * 10
    return Interval(
        session_id="s",
        session_path="/tmp/s",
        index=index,
        start=t,
        end=t + 5,
        task=task,
        apps=[app],
        windows=[title],
        metadata=EpisodeEvidence(session="s", interval=index, start=t, end=t + 5),
        actions=[
            Action(kind="type", t=t + 1, text=text, result=result and observed(title, result), title=title),
            Action(kind="click", t=t + 2, x=50, y=60, result=f'Window "{title}" (no change):', title=title),
        ],
    )


def format_row(name: str, episode):
    return registry.get("formats", name)().encode(episode)


def calls(episode):
    return [(c.name, c.arguments) for turn in episode.turns for c in turn.tool_calls]


def test_a_message_sent_in_a_chat_app_is_the_final_answer():
    [episode] = transcriber(per="interval").transcribe([interval(0, "Slack", "See you at 5")])
    assert calls(episode) == [("click", {"target": "Message", "x": 5, "y": 6})]
    assert episode.turns[-1].content == "See you at 5"
    assert episode.metadata["answer_source"] == "sent_message"


def test_a_chat_client_in_a_terminal_emulator_is_a_chat_and_a_shell_is_not():
    [chat] = transcriber().transcribe([interval(0, "XTerm", "see you at 5", title="weechat")])
    assert calls(chat) == [("click", {"target": "Message", "x": 5, "y": 6})]
    assert chat.turns[-1].content == "see you at 5" and chat.metadata["answer_source"] == "sent_message"
    [shell] = transcriber().transcribe([interval(0, "XTerm", "ls -l", title="user@host: ~/src")])
    assert calls(shell)[1] == ("type_text", {"text": "ls -l\n"})
    assert shell.turns[-1].content != "ls -l"
    # a browser's search box is not a chat either: the query is a step, not the answer
    [search] = transcriber().transcribe([interval(0, "chromium", "weather", title="New Tab - Chromium")])
    assert calls(search)[1] == ("type_text", {"text": "weather\n"})
    assert search.metadata["answer_source"] != "sent_message"


def test_a_command_entered_in_a_terminal_is_a_call_whose_result_is_its_output():
    [episode] = transcriber(per="interval").transcribe([interval(0, "XTerm", "ls -l")])
    assert calls(episode)[1] == ("type_text", {"text": "ls -l\n"})
    results = [t.content for t in episode.turns if t.role == "tool"]
    assert results[1] == observed("XTerm window", "ls -l\nsent")  # the screen after Enter, not before it


def test_text_written_in_a_document_is_the_answer():
    written = typing(0, "mousepad", "/home/ann/notes.txt - Mousepad", "Total: 42 EUR", "Add up the invoices")
    [episode] = transcriber().transcribe([interval(1, "XTerm", "ls", task="Add up the invoices"), written])
    assert episode.turns[-1].content == "Total: 42 EUR" and episode.turns[-1].weight is None
    assert episode.metadata["answer_source"] == "written_text"


def test_the_screen_lines_the_last_action_revealed_answer_the_request():
    page = typing(0, "chromium", "Runs - Chromium", "0042", "What was the loss of run 0042?")
    page.actions[-1].result = (  # an observation as activity/screen.py writes it
        'Window "Runs - Chromium" (+ appeared):\n  Runs\n+ run-0042 finished\n+ loss 1.73\n  Settings'
    )
    [episode] = transcriber().transcribe([page])
    assert episode.turns[-1].content == "run-0042 finished\nloss 1.73"
    assert episode.metadata["answer_source"] == "screen"
    # in a terminal, the command line and the prompt are not what was found
    shell = interval(0, "XTerm", "cat hello.txt", task="What does hello.txt say?")
    shell.actions[-1].result = 'Window "shell" (+ appeared):\n+ ~/p# cat hello.txt\n+ Hello, world\n+ ~/p# fj'
    [episode] = transcriber().transcribe([shell])
    assert episode.turns[-1].content == "Hello, world"


def test_without_an_answer_the_final_turn_is_not_trained_in_any_format():
    [episode] = transcriber().transcribe([interval(0, "XTerm", "make", task="Build it", result="make\n~/p#")])
    assert episode.turns[-1].weight == 0 and episode.metadata["answer_source"] == "none"
    assert not any("clicked" in (t.content or "") for t in episode.turns)  # never a step log
    assert format_row("openai", episode)["messages"][-1]["weight"] == 0
    # formats without per-turn weights end with the last call instead of teaching the untrained answer
    conversation = format_row("sharegpt", episode)["conversations"]
    assert [m["from"] for m in conversation[-2:]] == ["observation", "function_call"]
    assert json.loads(conversation[-1]["value"])["name"] == "type_text"
    chat = format_row("glaive", episode)["chat"].split("\n\n\n")
    assert chat[-1].startswith('ASSISTANT: <functioncall> {"name": "type_text"')


def test_an_unlabelled_request_says_what_was_done():
    [search] = transcriber().transcribe(
        [interval(0, "chromium", "weather berlin", task=None, title="New Tab - Chromium", result="Berlin: 12 C, rain")]
    )
    assert search.turns[0].content == "Search for \"weather berlin\" in 'New Tab - Chromium'."
    assert search.turns[-1].content == "Berlin: 12 C, rain"
    [shell] = transcriber().transcribe([interval(0, "XTerm", "ls -l", task=None, title="shell - ~/project")])
    assert shell.turns[0].content == "Run `ls -l` in 'shell - project'."
    [note] = transcriber().transcribe([typing(0, "mousepad", "/tmp/a/reply.txt - Mousepad", "Hi Ann", None)])
    assert note.turns[0].content == "Write in 'reply.txt - Mousepad'."
    # the interval also saw the editor the person switched to next: the command still ran in the terminal
    command = interval(0, "xterm", "make", task=None, title="dana@box: ~/llama")
    command.windows, command.apps = ["dana@box: ~/llama", "notes.md - gedit"], ["xterm", "gedit"]
    [episode] = transcriber().transcribe([command])
    assert episode.turns[0].content == "Run `make` in 'dana@box: llama'."


def test_an_unlabelled_request_names_the_heading_on_the_screen():
    def word(text: str, x: int, y: int, height: int, conf: float = 0.9) -> OcrWord:
        return OcrWord(text=text, box=(x, y, x + 10 * len(text), y + height), conf=conf, mid=(0.1, 0.1))

    page = typing(0, "chromium", "Docs - Chromium", "", None)
    page.actions = [Action(kind="scroll", t=101, x=5, y=5, dy=-3, title="Docs - Chromium")]
    page.screen_words = [word("Docs", 0, 0, 30), word("-", 50, 0, 30), word("Chromium", 70, 0, 30)]  # the title bar
    page.screen_words += [word("RS", 0, 20, 30, conf=0.4), word("EAT", 30, 20, 30, conf=0.4)]  # misread
    page.screen_words += [word("Installation", 0, 60, 30), word("guide", 130, 60, 30)]
    body = "Download the package and unpack it in a folder of your choice then run the installer".split()
    page.screen_words += [word(w, 0, 100 + 20 * i, 12) for i, w in enumerate(body)]
    [episode] = transcriber().transcribe([page])
    assert episode.turns[0].content == "Look at \"Installation guide\" in 'Docs - Chromium'."


def test_per_task_joins_the_intervals_of_a_task_into_one_episode():
    intervals = [interval(0, "XTerm", "cd src"), interval(1, "XTerm", "make"), interval(2, "XTerm", "ls", task="Other")]
    episodes = list(transcriber(per="task").transcribe(intervals))
    assert [e.turns[0].content for e in episodes] == ["Reply to Ann", "Other"]
    assert [c[1].get("text") for c in calls(episodes[0]) if c[0] == "type_text"] == ["cd src\n", "make\n"]
    assert episodes[0].source.interval == (100.0, 115.0)
    assert episodes[0].metadata["intervals"] == [0, 1]


def test_a_long_task_is_split_into_parts_that_say_which_part_they_are():
    intervals = [interval(i, "XTerm", f"cmd{i}") for i in range(5)]  # 3 actions each
    episodes = list(transcriber(per="task", max_task_actions=6).transcribe(intervals))
    assert [e.turns[0].content for e in episodes] == [
        "Reply to Ann (part 1 of 3)",
        "Reply to Ann (part 2 of 3)",
        "Reply to Ann (part 3 of 3)",
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
    assert episodes[0].turns[0].content == "Run `a` in 'XTerm window'."


def test_a_step_of_a_task_asks_for_what_it_did_and_never_answers_with_a_fragment_of_text():
    # a greeting typed in an editor, cut in two where the editor marked the file modified
    first = typing(0, "mousepad", "reply.txt - Mousepad", "Hi Jo", "Reply to John", result="Hi Jo")
    second = interval(1, "mousepad", "hn,", task="Reply to John", title="*reply.txt - Mousepad", result="Hi John,")
    steps = list(transcriber(per="interval").transcribe([first, second]))
    assert [e.turns[0].content for e in steps] == [
        "As one step of \"Reply to John\", write in 'reply.txt - Mousepad'.",
        "As one step of \"Reply to John\", write in 'reply.txt - Mousepad'.",
    ]
    assert [e.turns[-1].content for e in steps] == ["Done.", "Done."]
    assert [e.turns[-1].weight for e in steps] == [0, 0]
    # unlabelled intervals are episodes of their own: the same holds
    unlabelled = [i.model_copy(update={"task": None}) for i in (first, second)]
    assert [e.metadata["answer_source"] for e in transcriber().transcribe(unlabelled)] == ["none", "none"]
    # a step that wrote a whole note answers with it
    note = typing(2, "mousepad", "notes.txt - Mousepad", "Sent to John at 5", "Reply to John")
    *_, last = transcriber(per="interval").transcribe([first, second, note])
    assert last.turns[-1].content == "Sent to John at 5" and last.metadata["answer_source"] == "written_text"
    # joined, the task answers with the whole text written
    [task] = transcriber().transcribe([first, second])
    assert task.turns[0].content == "Reply to John" and task.turns[-1].content == "Hi John,"


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
