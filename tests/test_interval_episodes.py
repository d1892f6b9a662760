"""interval_episodes as a user sees it: sessions on disk -> episodes (real OCR on rendered frames)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont
from session_files import T0, SessionFiles

from toolbox.activity.actions import compile_actions
from toolbox.activity.intervals import IntervalSettings, cut_intervals
from toolbox.core.config import ConfigError, PluginRef
from toolbox.core.pipeline import instantiate
from toolbox.core.plugin import BuildContext
from toolbox.core.session import read_session

ROOT = Path(__file__).resolve().parent.parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render(texts: list[tuple[int, int, str]], size: tuple[int, int] = (800, 600), font_size: int = 20) -> Image.Image:
    """A frame with text at known places (x, y of the text's top-left), like a simple app."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, font_size)
    for x, y, text in texts:
        draw.text((x, y), text, fill="black", font=font)
    return image


class DrawnSession(SessionFiles):
    """A session whose frames are drawn from text at known places."""

    def __init__(
        self, root: Path, name: str = "20260101T000000Z-test", task: str | None = "Find the llama runs"
    ) -> None:
        super().__init__(root / name, task=task)

    def frame(self, t: float, texts: list[tuple[int, int, str]], reason: str = "before", font_size: int = 20) -> str:
        return self.add_frame(t, render(texts, font_size=font_size), reason)


RUNS_PAGE = [(40, 20, "Llama runs dashboard"), (40, 100, "Search runs"), (300, 100, "Export CSV")]
RESULTS_PAGE = RUNS_PAGE + [(40, 200, "run-0042 finished loss 1.73"), (40, 240, "run-0043 failed")]


def web_session(root: Path, task: str | None = "Find the llama runs") -> Path:
    """Browser: click 'Search runs', results appear; type a query, Enter; idle; a terminal."""
    s = DrawnSession(root, task=task)
    s.event(0.0, "mouse_move", x=5, y=5)  # before the first frame: must still land in an interval
    s.event(0.2, "window", title="Runs - Chromium", app="chromium", bounds=[0, 0, 800, 600])
    s.frame(0.5, RUNS_PAGE, reason="start")
    for i in range(300):  # a wandering pointer: many raw events, no actions
        s.event(1.0 + i * 0.01, "mouse_move", x=60 + i % 50, y=110)
    s.frame(4.0, RUNS_PAGE)
    s.click(4.0, 90, 112)
    s.frame(5.0, RESULTS_PAGE, reason="after")
    t = s.type(6.0, "llama 7b")
    s.keys(t, "enter")
    s.frame(t + 1, RESULTS_PAGE + [(40, 300, "1 result for llama 7b")], reason="after")
    # after a long pause: double click, drag, scroll notches
    s.click(30.0, 300, 110)
    s.click(30.2, 301, 111)
    s.click(32.0, 100, 400, to=(300, 420))
    for i in range(5):
        s.event(33.0 + i * 0.1, "scroll", x=400, y=300, dx=0, dy=-1)
    s.frame(34.0, RESULTS_PAGE, reason="after")
    # alt+tab to a terminal: a new interval; a typing-only interval (no click)
    s.keys(40.0, "alt_l", "tab")
    s.event(40.3, "window", title="notes - xterm", app="xterm", bounds=[0, 0, 800, 600])
    s.frame(40.5, [(10, 10, "$")], reason="window")
    s.keys(41.0, "ctrl_l", "c")
    t = s.type(42.0, "ls, then quit")
    s.frame(t + 0.5, [(10, 10, "$ ls, then quit")], reason="after")
    s.event(t + 5.0, "mouse_move", x=7, y=7)  # after the last frame
    return s.save()


def make_task(tmp_path: Path, **options: Any):
    ctx = BuildContext(cache_dir=tmp_path / "cache")
    options.setdefault("ocr_workers", 1)
    return instantiate(
        "tasks", PluginRef.model_validate({"name": "interval_episodes", **options}), "tasks[0]", ctx
    ), ctx


def calls(episode) -> list[tuple[str, dict]]:
    return [(c.name, c.arguments) for t in episode.turns for c in t.tool_calls]


def test_intervals_cut_at_enter_idle_and_focus_and_lose_no_event(tmp_path):
    session = read_session(web_session(tmp_path))
    actions = compile_actions(session.events)
    slices = cut_intervals(session.events, actions, IntervalSettings(idle_seconds=8))
    # Partition: consecutive, covering every event, first before the first frame, last after the last.
    assert slices[0].first == 0 and slices[-1].end == len(session.events)
    assert all(a.end == b.first for a, b in zip(slices, slices[1:]))
    assert [s.cut_reason for s in slices] == ["start", "enter", "focus"]
    kinds = [[c.action.kind for c in s.actions] for s in slices]
    assert kinds[0] == ["click", "type", "hotkey"]
    assert kinds[1] == ["double_click", "drag", "scroll"]
    assert kinds[2] == ["switch_window", "hotkey", "type"]  # typing only, no click
    assert sum(len(k) for k in kinds) == 9 < len(session.events) / 30


def test_actions_are_compiled_from_raw_events(tmp_path):
    session = read_session(web_session(tmp_path))
    actions = [c.action for c in compile_actions(session.events)]
    by_kind = {a.kind: a for a in actions}
    assert by_kind["scroll"].dy == -5  # five notches merged
    assert (by_kind["drag"].x, by_kind["drag"].y, by_kind["drag"].x2, by_kind["drag"].y2) == (100, 400, 300, 420)
    assert by_kind["switch_window"].title == "notes - xterm"  # alt+tab + focus change = one switch
    hotkeys = [(a.keys, a.shortcut) for a in actions if a.kind == "hotkey"]
    assert hotkeys == [(["enter"], None), (["ctrl", "c"], "copy")]
    assert [a.text for a in actions if a.kind == "type"] == ["llama 7b", "ls, then quit"]


@pytest.fixture(scope="module")
def web_episodes(tmp_path_factory):
    """The web session through the task with the default OCR (tesseract), once for the tests that read the screen."""
    folder = tmp_path_factory.mktemp("web")
    task, _ = make_task(folder, idle_seconds=8, transcriber={"name": "heuristic", "per": "interval"})
    return list(task.run(read_session(web_session(folder))))


def test_episodes_name_targets_by_screen_text_and_answer_with_new_text(web_episodes):
    episodes = web_episodes
    assert len(episodes) == 3
    first = episodes[0]
    # one episode per interval: each is a step of the task and asks for what it did
    assert (
        first.turns[0].content == 'As one step of "Find the llama runs", search for "llama 7b" in \'Runs - Chromium\'.'
    )
    name, args = calls(first)[0]
    assert name == "click" and args["target"].lower() == "search runs" and (args["x"], args["y"]) == (90, 112)
    result = first.turns[2].content.splitlines()
    assert "+ run-0042 finished loss 1.73" in result  # what appeared is marked ...
    assert "  Search runs" in result  # ... among the window's other lines (an observation, not a diff)
    # The interval ends with a typed query + Enter: a call; what it found on the screen is the answer.
    assert calls(first)[1] == ("type_text", {"text": "llama 7b\n"})
    assert first.turns[-1].role == "assistant" and first.turns[-1].content == "1 result for llama 7b"
    # typing-only interval in the terminal
    third = episodes[2]
    assert calls(third) == [
        ("switch_window", {"title": "notes - xterm"}),
        ("press_keys", {"keys": ["ctrl", "c"]}),
        ("type_text", {"text": "ls, then quit"}),
    ]
    assert third.turns[-1].weight == 0 and third.metadata["answer_source"] == "none"  # the typed echo is no answer


@pytest.mark.parametrize("font_size", [12, 14])
def test_a_short_typed_word_is_the_result_of_typing_it(tmp_path, font_size):
    """Typing two letters changes a few pixels of a frame: it must still be read, so the type
    action's result shows the line with the word, not "no change" (near-duplicate frames are skipped)."""
    s = DrawnSession(tmp_path, task="Filter the runs")
    s.event(0.0, "window", title="Runs - Chromium", app="chromium", bounds=[0, 0, 800, 600])
    form = [(40, 20, "Experiment tracker"), (40, 80, "Filter: status finished"), (40, 120, "Last saved by Dana")]
    s.frame(0.5, form, reason="start", font_size=font_size)
    t = s.type(1.0, " ok")
    s.frame(
        t + 0.5,
        [(40, 20, "Experiment tracker"), (40, 80, "Filter: status finished ok"), (40, 120, "Last saved by Dana")],
        reason="after",
        font_size=font_size,
    )
    task, ctx = make_task(tmp_path)
    episodes = list(task.run(read_session(s.save())))
    assert ctx.stats.extra["ocr"]["near_duplicates"] == 0
    turns = episodes[0].turns
    call = next(i for i, turn in enumerate(turns) for c in turn.tool_calls if c.name == "type_text")
    assert turns[call + 1].role == "tool" and "+ Filter: status finished ok" in turns[call + 1].content.splitlines()


def test_metadata_holds_what_a_report_draws(web_episodes):
    episode = web_episodes[0]
    meta = json.loads(json.dumps(episode.metadata))  # JSON-serializable
    assert meta["session"] == "20260101T000000Z-test" and meta["interval"] == 0
    assert meta["windows"] == ["Runs - Chromium"] and meta["apps"] == ["chromium"]
    assert meta["start"] < meta["end"]
    frame_paths = [f["path"] for f in meta["frames"]]
    assert frame_paths and all(p.startswith("frames/") for p in frame_paths)
    assert all((Path(meta["session_path"]) / p).is_file() for p in frame_paths)
    click = meta["actions"][0]
    assert click["kind"] == "click" and click["frame_before"] in frame_paths and click["frame_after"] in frame_paths
    assert click["frame_x"] == 90
    assert any(w["text"] == "Search" for w in meta["ocr"])
    assert all(0 <= w["mid"][0] <= 1 and 0 <= w["mid"][1] <= 1 and len(w["box"]) == 4 for w in meta["ocr"])


def test_without_task_label_the_request_says_what_was_done(tmp_path):
    task, _ = make_task(tmp_path, ocr=None)
    episodes = list(task.run(read_session(web_session(tmp_path, task=None))))
    assert episodes[0].turns[0].content == "Search for \"llama 7b\" in 'Runs - Chromium'."
    assert episodes[0].turns[2].content == "Done."  # no OCR: no screen text claimed


def test_a_task_marker_starts_an_interval_and_labels_it(tmp_path):
    s = DrawnSession(tmp_path, task=None)
    s.event(0, "window", title="editor", app="gedit")
    s.type(1, "abc")
    s.event(2, "marker", kind="task", text="Write the summary")
    s.type(3, "def")
    session = read_session(s.save())
    slices = cut_intervals(session.events, compile_actions(session.events))
    assert [(p.cut_reason, p.task) for p in slices] == [("start", None), ("marker", "Write the summary")]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_broken_sessions_are_skipped_in_parts_and_counted(tmp_path):
    root = tmp_path / "sessions"
    s = DrawnSession(root, name="20260101T000000Z-broken")
    s.event(0.1, "window", title="Runs - Chromium", app="chromium", bounds=[0, 0, 800, 600])
    s.frame(1.0, RUNS_PAGE)
    s.click(1.0, 90, 112)
    corrupt = s.frame(2.0, RESULTS_PAGE, reason="after")
    s.lines.append('{"t": 1767225603.0, "type": "key", "key": "a"')  # garbled in the middle
    s.lines.append("\x00\x01 not json")
    s.lines.append(json.dumps({"t": T0 + 3.5, "type": "gaze", "x": 1}))  # unknown event type
    s.type(4.0, "hi")
    s.keys(4.5, "enter")
    s.frame(5.0, RESULTS_PAGE, reason="after")
    s.save(extra_lines=['{"t": 1767225609.0, "type": "cli'])  # truncated last line
    data = (s.path / corrupt).read_bytes()
    (s.path / corrupt).write_bytes(data[: len(data) // 3])  # a png cut short: will not decode
    # A second session with no frames at all, and a third one whose folder is unreadable.
    n = DrawnSession(root, name="20260101T010000Z-noframes")
    n.event(0.0, "window", title="notes - xterm", app="xterm")
    n.type(1.0, "echo hi\n")
    n.save()
    (root / "20260101T020000Z-nometa").mkdir()
    (root / "20260101T020000Z-nometa" / "session.json").write_text("{not json")
    config = tmp_path / "exp.yaml"
    config.write_text(
        f"datasets: [{{name: sessions, path: {root}}}]\ntasks:\n  - name: interval_episodes\n"
        f"    ocr_workers: 1\nformat: sharegpt\noutput: {tmp_path / 'out.jsonl'}\ncache_dir: {tmp_path / 'cache'}\n"
    )
    result = run_cli("--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    events_file = s.path / "events.jsonl"
    assert f"{events_file}:6: unreadable event skipped" in err
    assert f"{events_file}:7: unreadable event skipped" in err
    assert f"{events_file}:8: unknown event type 'gaze' skipped" in err
    assert "truncated last line skipped" in err
    assert f"{s.path / corrupt}: frame does not decode" in err
    assert "20260101T010000Z-noframes" in err and "no readable frames" in err
    assert "20260101T020000Z-nometa" in err
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 2  # one episode from each readable session
    assert "Search runs" in json.dumps(rows)  # the readable frame was still read
    check = run_cli("validate", str(tmp_path / "out.jsonl"), "--format", "sharegpt", cwd=tmp_path)
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "glaive"])
def test_episodes_pass_every_format_validator(tmp_path, fmt):
    from toolbox.core import registry

    task, ctx = make_task(tmp_path, ocr=None)
    format_ = registry.get("formats", fmt)(None, ctx)
    for episode in task.run(read_session(web_session(tmp_path))):
        assert format_.validate(format_.encode(episode)) == []


@pytest.mark.parametrize(
    "options,message",
    [
        ({"transcriber": "heuristik"}, "did you mean 'heuristic'"),
        ({"transcriber": {"name": "heuristic", "sytem": "x"}}, "unknown key"),
        ({"ocr": "tessaract"}, "did you mean 'tesseract'"),
        ({"idle_secs": 3}, "did you mean 'idle_seconds'"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_key(tmp_path, options, message):
    with pytest.raises(ConfigError) as error:
        make_task(tmp_path, **options)
    text = str(error.value)
    assert "\n" not in text and text.startswith("tasks[0] (interval_episodes)") and message in text
