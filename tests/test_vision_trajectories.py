"""Vision trajectories as a user gets them: recorded sessions built into llamafactory_vision,
openai_vision and opencua rows; every exported point, read back from the row as a trainer sees
it and mapped through the exported image's size, lands on the recorded click; validate catches
rows that do not; privacy and multi-monitor mapping hold."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from PIL import Image, ImageDraw, ImageFont
from session_files import SessionFiles
from vision_sessions import FONT, build, click_session, corners, frame_image, mixed_session, rows, stats

from toolbox.cli import main
from toolbox.commands.validate import validate_file
from toolbox.core.config import PluginRef
from toolbox.core.models import EpisodeEvidence, Step
from toolbox.core.pipeline import instantiate
from toolbox.core.plugin import BuildContext
from toolbox.core.session import read_session
from toolbox.vision import CONVENTIONS, FAMILIES, decode, export_size, model_family

POINT = re.compile(r'"coordinate": \[(-?[0-9.]+), (-?[0-9.]+)\]')


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("size", [(1920, 1080), (2560, 1440)])
def test_a_click_near_each_corner_comes_back_to_where_it_was(tmp_path, convention, size):
    """Read like a trainer: the number in the assistant's call, on the image the row names, mapped
    back with the convention, is the recorded click (the session's own numbers) within 2 px."""
    clicks = corners(size)
    output = build(
        tmp_path,
        click_session(tmp_path / "sessions", size, clicks).parent,
        {
            "name": "llamafactory_vision",
            "coordinates": convention,
            "image_max_side": 1280,
        },
    )
    found = []
    for row in rows(output):
        match = POINT.search(row["messages"][-1]["content"])
        if match:
            image = Image.open(output.parent / row["images"][-1])
            assert image.size == export_size(size, convention, 1280)
            found.append(decode((float(match[1]), float(match[2])), convention, size, image.size))
    assert len(found) == len(clicks)
    for (x, y), (back_x, back_y) in zip(clicks, found):
        assert abs(back_x - x) <= 2 and abs(back_y - y) <= 2, (convention, (x, y), (back_x, back_y))
    assert validate_file(output, "llamafactory_vision") == (len(clicks) + 1, [])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_model_family_exports_rows_that_validate(tmp_path, family):
    """Clicks, drags and scrolls in each family's syntax: validate reads every point back out of
    the call text and round-trips it."""
    size = (1920, 1080)
    output = build(
        tmp_path, mixed_session(tmp_path / "s", size).parent, {"name": "llamafactory_vision", "model_family": family}
    )
    written = rows(output)
    assert validate_file(output, "llamafactory_vision") == (len(written), [])
    assert [len(r["grounding"]["points"]) for r in written] == [
        1,
        2,
        1,
        0,
        0,
        0,
    ]  # click, drag, scroll, type, ctrl+c, end
    preset = model_family(family)
    assert Image.open(output.parent / written[0]["images"][0]).size == export_size(size, preset, 1280)
    expected = {
        "ui-tars-1.5": ["Action: click(point='<point>", "Action: drag(start_point='<point>", "Action: scroll(point="],
        "opencua": ["pyautogui.click(x=", "pyautogui.moveTo(x=", "pyautogui.scroll(-3)"],
    }.get(family, [f'"action": "{preset.actions[a]}"' for a in ("click", "drag", "scroll")])
    for row, text in zip(written, expected):
        assert text in row["messages"][-1]["content"]


def test_a_build_never_writes_a_point_that_does_not_come_back(tmp_path):
    """At 256 px wide a 2560 px frame is 10 px per image pixel: some clicks cannot come back
    within 2 px, so the episode is dropped, counted, and nothing is written."""
    size = (2560, 1440)
    output = build(
        tmp_path,
        click_session(tmp_path / "s", size, [(1283, 705), (5, 5)]).parent,
        {
            "name": "llamafactory_vision",
            "coordinates": "pixels",
            "image_max_side": 256,
        },
        exit_code=3,  # nothing written
    )
    assert output.read_text() == ""
    assert stats(output)["dropped"] == [{"filter": "format", "reason": "point does not round-trip", "count": 1}]


def test_validate_catches_a_moved_point_and_a_resized_image(tmp_path):
    size = (1920, 1080)
    output = build(
        tmp_path,
        click_session(tmp_path / "s", size, [(400, 300), (1500, 900)]).parent,
        {
            "name": "opencua",
        },
    )
    (row,) = rows(output)
    assert row["traj"][0]["value"]["code"] == "pyautogui.click(x=0.2083, y=0.2778)"
    assert row["traj"][-1]["value"]["code"] == "computer.terminate(status='success')"
    assert validate_file(output, "opencua") == (1, [])
    moved = json.dumps(row).replace("x=0.2083, y=0.2778", "x=0.2183, y=0.2778")
    output.write_text(moved + "\n")
    assert "maps back to (419.1, 300.0), not within 2 px of [400, 300]" in validate_file(output, "opencua")[1][0]
    output.write_text(json.dumps(row) + "\n")
    image = output.parent / row["traj"][1]["image"]
    Image.open(image).resize((1000, 562)).save(image)
    problems = validate_file(output, "opencua")[1]
    assert "point 2: image 1 is 1000x562; normalized gives a 1920x1080 frame 1280x720" in problems[0]


def test_a_click_on_a_word_is_checked_against_the_word_s_box(tmp_path):
    """With OCR, the step records the box of the label under the pointer; the round trip then
    only needs to land in it."""
    s = SessionFiles(tmp_path / "s" / "20260101T000000Z-box", task="Export the runs", size=(800, 600))
    s.window(0.1, "Runs - Chromium", "chromium")
    page = frame_image((800, 600))
    ImageDraw.Draw(page).text((300, 280), "Export", fill="black", font=ImageFont.truetype(FONT, 32))
    s.add_frame(1.0, page, reason="before")
    s.click(1.2, 340, 300)
    s.add_frame(2.0, frame_image((800, 600), "Exported"), reason="after")
    output = build(
        tmp_path, s.save().parent, {"name": "llamafactory_vision", "coordinates": "grid1000"}, ocr="tesseract"
    )
    first = rows(output)[0]
    (point,) = first["grounding"]["points"]
    x0, y0, x1, y1 = point["box"]
    assert x0 <= 340 <= x1 and y0 <= 300 <= y1 and x1 - x0 > 60
    assert "Export" in first["messages"][-1]["content"] or "Export" in rows(output)[1]["messages"][1]["content"]
    assert validate_file(output, "llamafactory_vision")[1] == []


def test_hidpi_second_monitor_clicks_map_onto_the_downscaled_frame(tmp_path):
    """A click on the right-hand 2560x1440 monitor, recorded as a 0.75-scale frame of that
    monitor: the step's point is in frame pixels, normalised to the monitor, and round-trips."""
    s = SessionFiles(tmp_path / "s" / "20260101T000000Z-hidpi", task="Click the far monitor", size=(1920, 1080))
    meta = json.loads((s.path / "session.json").read_text())
    meta["monitors"] = [
        {"index": 0, "left": 0, "top": 0, "width": 1920, "height": 1080, "scale": 1.0},
        {"index": 1, "left": 1920, "top": 0, "width": 2560, "height": 1440, "scale": 1.0},
    ]
    (s.path / "session.json").write_text(json.dumps(meta))
    s.window(0.1, "Board - Chromium", "chromium")
    for t, name in ((1.0, "000000"), (3.0, "000001")):
        frame_image((1920, 1080)).save(s.path / f"frames/{name}.png")
        s.event(t, "frame", file=f"frames/{name}.png", monitor=1, width=1920, height=1080, reason="before", hash=name)
    s.click(1.5, 1920 + 2000, 1000)
    t = s.type(2.0, "hi")
    s.keys(t, "ctrl", "v")
    root = s.save().parent
    task = instantiate(
        "tasks", PluginRef.model_validate({"name": "interval_episodes", "ocr": None}), "tasks[0]", BuildContext()
    )
    (episode,) = task.run(read_session(root / "20260101T000000Z-hidpi"))
    steps = [Step.model_validate(step) for step in episode.metadata["steps"]]
    # the frame at 3.0 s came after the typing and the paste began: only the paste's screen
    assert [(s.action, s.frame_before, s.frame_after) for s in steps] == [
        ("click", "frames/000000.png", None),
        ("type", "frames/000000.png", None),
        ("paste", "frames/000000.png", "frames/000001.png"),
    ]
    assert (steps[0].frame_size, steps[0].point, steps[0].point_norm) == (
        (1920, 1080),
        (1500, 750),
        (0.78125, 0.694444),
    )
    assert (steps[1].text, steps[2].keys) == ("hi", ["ctrl", "v"])
    output = build(tmp_path, root, {"name": "opencua"})
    (row,) = rows(output)
    assert row["grounding"]["points"][0]["point"] == [1500, 750]
    assert row["traj"][0]["value"]["code"] == "pyautogui.click(x=0.7812, y=0.6944)"  # 2000/2560, 1000/1440
    assert validate_file(output, "opencua") == (1, [])


def test_typed_passwords_are_redacted_in_steps_and_rows(tmp_path):
    """The steps carry the redacted text, like the conversation; the screenshots are the
    recorded frames."""
    s = SessionFiles(tmp_path / "s" / "20260101T000000Z-pw", task="Sign in to the tracker", size=(800, 600))
    s.window(0.1, "Sign in - Tracker - Chromium", "chromium")
    s.add_frame(1.0, frame_image((800, 600), "Password"), reason="before")
    s.click(1.2, 420, 240)
    t = s.type(2.0, "Tr0ub4dor&3zebra")
    s.keys(t + 0.2, "enter")
    s.add_frame(t + 1.0, frame_image((800, 600), "Welcome"), reason="after")
    root = s.save().parent
    for fmt in ("llamafactory_vision", "openai_vision", "opencua"):
        output = build(tmp_path, root, fmt, name=fmt)
        text = output.read_text()
        assert "Tr0ub4dor" not in text and "[PASSWORD]" in text, fmt
        assert validate_file(output, fmt)[1] == [], fmt


def test_episodes_without_recorded_steps_are_dropped_and_counted(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(
        json.dumps({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}) + "\n"
    )
    config = {
        "datasets": [{"name": "file", "path": str(data)}],
        "format": "openai_vision",
        "output": str(tmp_path / "o.jsonl"),
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["--config", str(tmp_path / "c.yaml"), "-q"]) == 3  # nothing written
    assert stats(tmp_path / "o.jsonl")["dropped"] == [{"filter": "format", "reason": "no recorded steps", "count": 1}]


def test_an_episode_that_is_only_a_sent_message_is_dropped_and_counted(tmp_path):
    """Typing sent with Enter in a chat becomes the episode's reply: no action is left to show."""
    s = SessionFiles(tmp_path / "s" / "20260101T000000Z-chat", task="Greet Jo", size=(800, 600))
    s.window(0.1, "Chat - Chromium", "chromium")
    s.add_frame(1.0, frame_image((800, 600), "Chat"), reason="before")
    s.type(1.5, "Hi Jo\n")
    output = build(tmp_path, s.save().parent, "opencua", exit_code=3)
    assert stats(output)["dropped"] == [{"filter": "format", "reason": "no steps", "count": 1}]


def test_dataset_info_json_gets_this_file_s_entry_and_keeps_the_others(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "dataset_info.json").write_text(json.dumps({"alpaca_en": {"file_name": "alpaca.json"}}))
    output = build(
        tmp_path, click_session(tmp_path / "s", (1280, 800), [(10, 10)]).parent, "llamafactory_vision", name="runs"
    )
    info = json.loads((output.parent / "dataset_info.json").read_text())
    assert info["alpaca_en"] == {"file_name": "alpaca.json"}
    assert info["runs"]["file_name"] == "runs.jsonl"
    assert info["runs"]["columns"] == {"messages": "messages", "images": "images"}


def test_steps_follow_the_actions_and_join_with_their_intervals():
    a = EpisodeEvidence(interval=0, steps=[Step(action="click", t=1.0, point=(1, 2))])
    b = EpisodeEvidence(
        interval=1, steps=[Step(action="type", t=2.0, text="hi"), Step(action="paste", t=3.0, keys=["ctrl", "v"])]
    )
    assert [s.action for s in EpisodeEvidence.joined([a, b]).steps] == ["click", "type", "paste"]


def test_history_images_and_image_tokens_match(tmp_path):
    size = (1280, 720)
    output = build(
        tmp_path,
        click_session(tmp_path / "s", size, corners(size)).parent,
        {
            "name": "llamafactory_vision",
            "history_images": 1,
        },
    )
    written = rows(output)
    assert [len(r["images"]) for r in written] == [1, 2, 2, 2, 2, 2, 2]
    for row in written:
        assert sum(m["content"].count("<image>") for m in row["messages"]) == len(row["images"])
    assert written[-1]["messages"][-1]["content"].endswith('"action": "terminate", "status": "success"}}\n</tool_call>')
    assert written[0]["messages"][1]["content"].startswith("<image>Task: Click around the screen")
