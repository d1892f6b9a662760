"""Truthful episodes (issue 11): each result is the screen after its own action, says what
appeared and what went, typing survives a title change, a paste carries its text, the
recorder's hotkeys are no actions, and OCR noise and local paths stay out of what a model sees.
Sessions are written event by event with drawn frames read by the default OCR (tesseract)."""

from __future__ import annotations

import json
from pathlib import Path

from test_interval_episodes import DrawnSession, calls, make_task

from toolbox.activity.screen import ObservationLimits, observation
from toolbox.core.session import read_session
from toolbox.ocr_engines.words import OcrWord, garbled

MAIL = [(40, 20, "Inbox"), (40, 60, "Search mail")]
EDITOR = "/tmp/work/reply.txt - Mousepad"


def results(episode) -> list[str]:
    return [t.content for t in episode.turns if t.role == "tool"]


def key(s: DrawnSession, t: float, name: str, char: str | None = None, **frames: str) -> None:
    s.event(t, "key", key=name, char=char, pressed=True, **frames)
    s.event(t + 0.02, "key", key=name, char=None, pressed=False)


def set_recorder(folder: Path, **settings: str) -> None:
    meta = json.loads((folder / "session.json").read_text())
    meta["recorder"] = settings
    (folder / "session.json").write_text(json.dumps(meta))


def test_each_result_is_the_screen_after_its_own_action(tmp_path):
    """A click that changed nothing says so, though the next distinct frame shows text typed
    afterwards; a before-frame grabbed after the first key is not the screen before it; an
    after-frame grabbed once the next action began is not that action's result."""
    s = DrawnSession(tmp_path, task="Find the budget mail")
    s.event(0.0, "window", title="Mail - Chromium", app="chromium", bounds=[0, 0, 800, 600])
    start = s.frame(0.5, MAIL, reason="start")
    s.event(1.0, "click", x=80, y=70, button="left", pressed=True, frame_before=start)
    s.event(1.08, "click", x=80, y=70, button="left", pressed=False, frame_after=start)  # identical: stored once
    late = s.frame(2.05, [*MAIL[:1], (40, 60, "Search mail b")], reason="before")  # grabbed after the key
    key(s, 2.0, "b", "b", frame_before=late)
    for i, ch in enumerate("udge"):
        key(s, 2.1 + i * 0.1, ch, ch)
    s.event(2.5, "key", key="t", char="t", pressed=True)
    typed = s.frame(3.1, [*MAIL[:1], (40, 60, "Search mail budget")], reason="after")
    s.event(2.52, "key", key="t", char=None, pressed=False, frame_after=typed)  # named once it settled
    s.event(3.5, "key", key="enter", char="\n", pressed=True)
    s.frame(3.9, [*MAIL[:1], (40, 60, "Search mail budget"), (40, 140, "Budget review")], reason="window")
    opened = s.frame(4.3, [(40, 20, "Budget 2026 draft attached")], reason="after")  # after the click below
    s.event(3.52, "key", key="enter", char=None, pressed=False, frame_after=opened)
    s.event(4.0, "click", x=60, y=150, button="left", pressed=True)
    s.event(4.08, "click", x=60, y=150, button="left", pressed=False, frame_after=opened)
    task, _ = make_task(tmp_path)
    [episode] = list(task.run(read_session(s.save())))
    assert [name for name, _ in calls(episode)] == ["click", "type_text", "click"]
    click, search, open_mail = results(episode)
    assert "budget" not in click.lower() and "(no change)" in click.splitlines()[0]
    assert "+ Search mail budget" in search.splitlines() and "+ Budget review" in search.splitlines()
    assert "Budget 2026" not in search  # shown only after the next click
    assert "Budget 2026 draft attached" in open_mail
    rows = episode.metadata["actions"]
    assert rows[1]["frame_before"] == start  # not the grab taken after the first key
    assert rows[2]["frame_after"] == "frames/000003.png"  # Enter's: the last frame before the click


def test_a_filtered_list_shows_the_rows_left_and_says_the_others_went(tmp_path):
    rows = [f"Run {40 + i} {status}" for i, status in enumerate(["failed", "finished", "queued"] * 2)]
    page = [(40, 20, "Experiment runs"), (40, 60, "Filter:")] + [(40, 110 + 36 * i, r) for i, r in enumerate(rows)]
    s = DrawnSession(tmp_path, task="Show the failed runs")
    s.event(0.0, "window", title="Runs - Chromium", app="chromium", bounds=[0, 0, 800, 600])
    s.frame(0.5, page, reason="start")
    t = s.type(1.0, "failed")
    s.keys(t, "enter")
    left = [r for r in rows if "failed" in r]
    s.frame(
        t + 0.6,
        [(40, 20, "Experiment runs"), (40, 60, "Filter: failed")] + [(40, 110 + 36 * i, r) for i, r in enumerate(left)],
        reason="after",
    )
    s.click(t + 2.0, 60, 118)  # then opens the first run (so the typing is no message sent)
    task, _ = make_task(tmp_path)
    [episode] = list(task.run(read_session(s.save())))
    lines = results(episode)[0].splitlines()
    assert lines[0] == 'Window "Runs - Chromium" (+ appeared, - gone):'
    assert "+ Filter: failed" in lines
    assert [line for line in lines if line.startswith("  Run")] == [f"  {r}" for r in left]  # still there
    assert [line for line in lines if line.startswith("- Run")] == [f"- {r}" for r in rows if r not in left]


def test_typing_joined_with_its_enter_keeps_what_the_typing_showed(tmp_path):
    """The editor shows the text once typed; Enter then adds an empty line (no new words): the
    joined call's result still shows the typed line, not "no change"."""
    s = DrawnSession(tmp_path, task="Greet John")
    s.event(0.0, "window", title="reply.txt - Mousepad", app="mousepad", bounds=[0, 0, 800, 600])
    s.frame(0.5, [(10, 10, "File Edit Search")], reason="start")
    t = s.type(1.0, "hi john,")
    shown = [(10, 10, "File Edit Search"), (10, 60, "hi john,")]
    s.frame(t + 0.5, shown, reason="after")
    s.keys(t + 1.0, "enter")
    s.frame(t + 1.6, shown, reason="after")
    s.keys(t + 3.0, "ctrl_l", "s")  # then saves (so the typing is no message sent)
    task, _ = make_task(tmp_path)
    [episode] = list(task.run(read_session(s.save())))
    assert calls(episode)[0] == ("type_text", {"text": "hi john,\n"})
    assert "+ hi john," in results(episode)[0].splitlines()


def test_a_new_title_of_the_same_window_does_not_cut_the_typing(tmp_path):
    s = DrawnSession(tmp_path, task="Greet John")
    s.event(0.0, "window", title="reply.txt - Mousepad", app="mousepad", bounds=[0, 0, 800, 600])
    t = s.type(1.0, "hi jo")
    s.event(t, "window", title="*reply.txt - Mousepad", app="mousepad", bounds=[0, 0, 800, 600])  # modified
    t = s.type(t + 0.05, "hn,\n")
    s.keys(t + 1.0, "ctrl_l", "s")
    task, _ = make_task(tmp_path, ocr=None)
    [episode] = list(task.run(read_session(s.save())))
    assert calls(episode) == [("type_text", {"text": "hi john,\n"}), ("press_keys", {"keys": ["ctrl", "s"]})]


def clipboard_session(tmp_path: Path, copied: str, target: str = "Invoice 2026 - Mousepad") -> Path:
    """Copy in a browser (the recorder reads the clipboard just after ctrl+c), click into an
    editor, paste there a while later."""
    s = DrawnSession(tmp_path, task="Note the invoice number")
    s.event(0.0, "window", title="Billing - Chromium", app="chromium", bounds=[0, 0, 400, 600])
    s.frame(0.5, [(20, 20, "Billing"), (20, 60, copied)], reason="start")
    s.click(1.0, 60, 70, to=(200, 70))  # select it
    s.keys(2.0, "ctrl_l", "c")
    s.event(2.2, "clipboard", op="copy", text=copied)
    s.click(4.0, 600, 300)
    s.event(4.1, "window", title=target, app="mousepad", bounds=[400, 0, 400, 600])
    s.keys(20.0, "ctrl_l", "v")
    s.frame(20.6, [(420, 20, "Notes"), (420, 60, copied)], reason="after")
    return s.save()


def test_a_paste_carries_the_text_copied_in_another_window(tmp_path):
    task, _ = make_task(tmp_path, transcriber={"name": "heuristic", "per": "task"})
    [episode] = list(task.run(read_session(clipboard_session(tmp_path, "INV-20931"))))
    names = [name for name, _ in calls(episode)]
    assert names == ["drag", "press_keys", "click", "paste"]
    assert calls(episode)[-1] == ("paste", {"text": "INV-20931"})
    copy_result = results(episode)[1]
    assert copy_result.splitlines()[0] == 'Copied to the clipboard: "INV-20931"'


def test_clipboard_text_is_redacted_and_never_read_in_excluded_windows(tmp_path):
    secret = "alice@example.com"
    task, _ = make_task(tmp_path / "a", transcriber={"name": "heuristic", "per": "task"})
    [episode] = list(task.run(read_session(clipboard_session(tmp_path / "a", secret))))
    assert calls(episode)[-1] == ("paste", {"text": "[EMAIL_1]"})
    assert secret not in json.dumps([t.model_dump() for t in episode.turns])
    # copied in an excluded window: the clipboard event is not read, the paste carries nothing
    folder = clipboard_session(tmp_path / "b", "hunter2-vault")
    task, _ = make_task(tmp_path / "b", exclude_windows=["Billing"], ocr=None)
    episodes = list(task.run(read_session(folder)))
    assert [calls(e) for e in episodes] == [[("press_keys", {"keys": ["ctrl", "v"]})]]
    assert "hunter2" not in json.dumps([e.model_dump(mode="json") for e in episodes])


def test_a_paste_into_a_sign_in_form_is_a_password(tmp_path):
    folder = clipboard_session(tmp_path, "Tr0ub4dor&3", target="Sign in - Chromium")
    task, _ = make_task(tmp_path, ocr=None, transcriber={"name": "heuristic", "per": "task"})
    [episode] = list(task.run(read_session(folder)))
    assert calls(episode)[-1] == ("paste", {"text": "[PASSWORD]"})


def test_recorder_hotkeys_are_no_actions_and_pause_releases_modifiers(tmp_path):
    """An older recorder logged ctrl and alt going down for its pause chord but not coming up (it
    dropped keys while paused): `pwd` typed after resuming is text, and the chords themselves
    (here logged whole) are never actions."""
    s = DrawnSession(tmp_path, task="Where am I")
    s.event(0.0, "window", title="shell", app="xterm", bounds=[0, 0, 800, 600])
    t = s.type(1.0, "ls\n")
    s.event(t + 1.0, "key", key="ctrl_l", char=None, pressed=True)
    s.event(t + 1.05, "key", key="alt_l", char=None, pressed=True)
    s.event(t + 1.1, "key", key="p", char="p", pressed=True)
    s.event(t + 1.1, "marker", kind="pause")
    s.event(t + 9.0, "marker", kind="resume")
    s.type(t + 10.0, "pwd\n")
    s.keys(t + 12.0, "ctrl_l", "alt_l", "q")  # the stop chord
    folder = s.save()
    set_recorder(folder, pause_hotkey="ctrl+alt+p", stop_hotkey="ctrl+alt+q")
    task, _ = make_task(tmp_path, ocr=None, transcriber={"name": "heuristic", "per": "task"})
    [episode] = list(task.run(read_session(folder)))
    assert calls(episode) == [("type_text", {"text": "ls\n"}), ("type_text", {"text": "pwd\n"})]


def test_local_paths_in_window_titles_are_shortened(tmp_path):
    s = DrawnSession(tmp_path, task=None)
    s.event(0.0, "window", title="shell - /home/dana/work", app="xterm", bounds=[0, 0, 800, 600])
    s.type(1.0, "ls")
    s.keys(2.0, "alt_l", "tab")
    s.event(2.3, "window", title=EDITOR, app="mousepad", bounds=[0, 0, 800, 600])
    task, _ = make_task(tmp_path, ocr=None, transcriber={"name": "heuristic", "per": "interval"})
    episodes = list(task.run(read_session(s.save())))
    assert calls(episodes[-1]) == [("switch_window", {"title": "reply.txt - Mousepad"})]
    shown = json.dumps([[t.model_dump() for t in e.turns] for e in episodes])
    assert "/home/dana" not in shown and "/tmp/work" not in shown


def word(text: str, y: int, conf: float = 0.9, x: int = 10) -> OcrWord:
    return OcrWord(text=text, box=(x, y, x + 10 * len(text), y + 14), conf=conf, mid=(0, 0))


def test_a_cursor_read_into_a_word_is_cut_off_not_the_word():
    """A text cursor OCR reads as "|" stuck to the word before it ("C-204|", "Qq|") leaves the
    word in the result without the cursor; a glyph inside a word still makes it garbage, and a
    lone "|" (a shell pipe) is text."""
    after = [word("Room:", 10), word("C-204|", 10, x=70), word("|Tracking", 40), word("st§rn", 70), word("|", 100)]
    text = observation([], after, "notes.txt - Mousepad", ObservationLimits())
    assert text.splitlines() == ['Window "notes.txt - Mousepad" (+ appeared):', "+ Room: C-204", "+ Tracking", "+ |"]


def test_ocr_noise_stays_out_of_results():
    """Unsure words and garbled tokens (an icon read as "«", a block cursor read as "fj", a
    fragment "ut") are not quoted; real short tokens (ls, -l, a, $, 13) are."""
    after = [
        word("«", 10),
        word("Files", 10, x=40),
        word("$", 40),
        word("ls", 40, x=30),
        word("-l", 40, x=60),
        word("fj", 40, x=90),
        word("total", 70),
        word("13", 70, x=80),
        word("ut", 70, x=120),
        word("budget", 100, conf=0.2),
        word("a", 100, x=100),
        word("report", 100, x=120),
    ]
    text = observation([], after, "shell", ObservationLimits())
    assert text.splitlines() == ['Window "shell" (+ appeared):', "+ Files", "+ $ ls -l", "+ total 13", "+ a report"]
    assert [garbled(t) for t in ("§j", "storn|", "x", "I", "&&", "->", "PO-7781", "wc", "th")] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        True,
    ]


def test_a_long_screen_is_cut_around_what_changed():
    before = [word(f"line {i}", 20 * i) for i in range(40)]
    after = [w for w in before if w.text != "line 5"] + [word("line 30 done", 20 * 30 + 5, x=200)]
    after = [w for w in after if w.text != "line 30"]
    text = observation(before, after, "log", ObservationLimits(lines=6))
    lines = text.splitlines()
    assert "- line 5" in lines and "+ line 30 done" in lines
    assert len([line for line in lines if not line.startswith(("  …", "- …"))]) <= 7
    assert any(line.startswith("  …") and "more lines" in line for line in lines)


def test_an_action_with_no_frame_of_its_own_claims_nothing(tmp_path):
    """No frame was taken between a click and the typing after it: the click's result is not
    read from the frame after the typing (it would show the typed text, or "no change")."""
    s = DrawnSession(tmp_path, task="Search")
    s.event(0.0, "window", title="Mail - Chromium", app="chromium", bounds=[0, 0, 800, 600])
    s.frame(0.5, MAIL, reason="start")
    s.click(1.0, 80, 70)
    s.type(2.0, "budget")
    s.frame(3.0, [*MAIL[:1], (40, 60, "Search mail budget")], reason="after")
    task, _ = make_task(tmp_path)
    [episode] = list(task.run(read_session(s.save())))
    assert calls(episode)[0] == ("click", {"target": "Search mail", "x": 80, "y": 70})
    click, typing = results(episode)
    assert click == "Done."
    assert "+ Search mail budget" in typing.splitlines()
