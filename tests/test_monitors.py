"""Several monitors, negative origins and HiDPI: a click lands on the right monitor's frame at
the right pixel. (Xvfb offers one screen, so the geometry is given here; the recorder's real
capture path is covered by tests/test_recorder.py.)"""

import json
from pathlib import Path

from PIL import Image

from recorder.frames import Screen
from toolbox.activity.session_frames import session_frames
from toolbox.core.session import Monitor, read_session

LEFT = Monitor(index=0, left=-1920, top=0, width=1920, height=1080, scale=2.0)  # HiDPI, left of the main one
MAIN = Monitor(index=1, left=0, top=-200, width=2560, height=1440)


def test_the_monitor_under_a_point_with_negative_origins():
    screen = Screen.__new__(Screen)  # geometry only; no X connection
    screen.monitors = [LEFT, MAIN]
    assert screen.monitor_at(-1, 500) == 0
    assert screen.monitor_at(-1920, 0) == 0
    assert screen.monitor_at(0, -200) == 1
    assert screen.monitor_at(2559, 1239) == 1
    assert screen.monitor_at(None, None) == 0  # no pointer: the first monitor


def test_virtual_screen_points_map_onto_each_monitors_frame(tmp_path: Path):
    folder = tmp_path / "s"
    (folder / "frames").mkdir(parents=True)
    Image.new("L", (3840, 2160)).save(folder / "frames/000001.png")  # physical pixels, 2x
    Image.new("L", (1920, 1080)).save(folder / "frames/000002.png")  # recorded at scale 0.75
    meta = {"schema_version": 1, "id": "s", "started_at": 1.0, "monitors": [LEFT.model_dump(), MAIN.model_dump()]}
    (folder / "session.json").write_text(json.dumps(meta))
    events = [
        {"t": 1.0, "type": "frame", "file": "frames/000001.png", "monitor": 0, "width": 3840, "height": 2160},
        {"t": 1.1, "type": "frame", "file": "frames/000002.png", "monitor": 1, "width": 1920, "height": 1080},
    ]
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    frames, problems = session_frames(read_session(folder))
    assert problems == []
    left, main = frames.refs  # in time order
    assert left.to_frame(-1000, 500) == (1840, 1000)  # 920 logical px into the left monitor, at 2x
    assert main.to_frame(100, -100) == (75, 75)  # offset by top=-200, recorded at 0.75
