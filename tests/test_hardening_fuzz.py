"""Fuzz (hypothesis) over event lines and session folders: whatever a session holds (random bytes,
truncated JSON, wrong types, huge numbers, unknown types, odd paths, a broken session.json), the build
ends normally, no plugin fails on it, and the good session beside it is always written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from session_files import T0
from test_hardening import good_session

from toolbox.cli import main

FUZZ_EXAMPLES = int(os.environ.get("DATAMAKR_FUZZ_EXAMPLES", "60"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(),  # nan, inf, 1e300, -0.0 ...
    st.sampled_from([1e300, -1.0, 0, "NaN", "12", True]),
    json_values,
)


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy = numbers, tenths: int = 8) -> st.SearchStrategy:
    """`good` about `tenths` times in ten, else `bad`: enough sound values that the fuzzed session gets far."""
    return st.integers(1, 10).flatmap(lambda n: good if n <= tenths else bad)


times = mostly(st.floats(min_value=T0, max_value=T0 + 300))
coords = mostly(st.integers(0, 800))
odd_paths = mostly(
    st.sampled_from(["frames/000000.png", "frames/000001.png"]),
    st.sampled_from(
        [
            "frames/link.png",
            "frames/loop.png",
            "/etc/hostname",
            "../../outside.png",
            "frames/../../outside.png",
            "frames/" + "a" * 300 + ".png",
            "",
            ".",
            "frames",
            "frames/\x00.png",
            "events.jsonl",
        ]
    )
    | st.text(max_size=20),
    tenths=5,
)


def typed(kind: str, required: dict, optional: dict | None = None) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"t": times, "type": st.just(kind), **required}, optional=optional or {})


well_formed = st.one_of(  # each type with its fields, values mostly plausible: sessions that make episodes
    typed("click", {"x": coords, "y": coords}, {"pressed": st.booleans(), "frame_before": odd_paths}),
    typed(
        "key",
        {"key": st.sampled_from(["a", "b", "enter", "shift", "ctrl_l", "backspace"])},
        {"char": st.text(max_size=2), "pressed": st.booleans()},
    ),
    typed("frame", {"file": odd_paths, "width": coords, "height": coords}, {"monitor": mostly(st.just(0))}),
    typed(
        "window",
        {"title": st.text(max_size=20)},
        {"app": st.text(max_size=8), "bounds": st.lists(coords, min_size=4, max_size=4)},
    ),
    typed("scroll", {"x": coords, "y": coords}, {"dx": coords, "dy": coords}),
    typed("mouse_move", {"x": coords, "y": coords}),
    typed("marker", {"kind": st.sampled_from(["task", "pause", "resume", "note"])}, {"text": st.text(max_size=20)}),
)
any_fields = st.dictionaries(
    st.sampled_from(["t", "type", "x", "y", "key", "char", "file", "width", "height", "bounds", "title", "kind"]),
    numbers | st.text(max_size=10),
)


def dumps(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


broken_line = st.one_of(
    st.tuples(well_formed, st.integers(0, 200)).map(lambda p: dumps(p[0])[: p[1]]),  # truncated
    st.binary(max_size=80),  # random bytes
    json_values.map(dumps),  # not an object, or an object of anything
    any_fields.map(dumps),  # wrong types, unknown types, missing fields
)
line = mostly(well_formed.map(dumps), broken_line, tenths=7)
good_meta = st.fixed_dictionaries(
    {"id": st.just("fuzz"), "started_at": st.just(T0)},
    optional={
        "ended_at": mostly(st.just(T0 + 300)),
        "monitors": mostly(
            st.lists(
                st.fixed_dictionaries(
                    {"index": st.just(0), **{k: mostly(st.integers(0, 1920), tenths=9) for k in ("left", "top")}}
                    | {k: mostly(st.integers(1, 1920), tenths=9) for k in ("width", "height")}
                ),
                max_size=2,
            ),
            json_values,
        ),
        "task": mostly(st.text(max_size=20), json_values),
        "schema_version": mostly(st.just(1)),
    },
).map(dumps)
meta = mostly(
    good_meta,
    st.one_of(st.fixed_dictionaries({"id": json_values, "started_at": numbers}).map(dumps), st.binary(max_size=60)),
    tenths=7,
)
folder = st.fixed_dictionaries(
    {
        "meta": mostly(meta, st.none(), tenths=9),
        "events": mostly(st.lists(line, max_size=40).map(b"\n".join), st.sampled_from(["folder", None]), tenths=9),
        "frame": st.sampled_from(["png", "png", "bytes", "bomb", None]),
        "link": st.booleans(),
    }
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good session (copied into every example's sessions folder) and an OCR cache shared by all examples."""
    base = tmp_path_factory.mktemp("fuzz")
    good_session(base / "template")
    Image.new("L", (40, 30), 255).save(base / "blank.png")
    Image.new("1", (9000, 9000)).save(base / "bomb.png")
    render = base / "outside.png"
    shutil.copy(base / "blank.png", render)
    return base


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(shape=folder)
def test_no_session_can_crash_the_build_or_lose_the_good_one(workspace: Path, shape: dict) -> None:
    with tempfile.TemporaryDirectory(dir=workspace) as scratch:
        root = Path(scratch) / "sessions"
        shutil.copytree(workspace / "template", root)
        fuzzed = root / "20260101T120000Z-fuzz"
        (fuzzed / "frames").mkdir(parents=True)
        if shape["meta"] is not None:
            (fuzzed / "session.json").write_bytes(shape["meta"])
        if shape["events"] == "folder":
            (fuzzed / "events.jsonl").mkdir()
        elif shape["events"] is not None:
            (fuzzed / "events.jsonl").write_bytes(shape["events"])
        frame = fuzzed / "frames" / "000000.png"
        if shape["frame"] == "png":
            shutil.copy(workspace / "blank.png", frame)
        elif shape["frame"] == "bytes":
            frame.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
        elif shape["frame"] == "bomb":
            shutil.copy(workspace / "bomb.png", frame)
        if shape["link"]:
            (fuzzed / "frames" / "link.png").symlink_to(workspace / "outside.png")
            (fuzzed / "frames" / "loop.png").symlink_to(fuzzed / "frames" / "loop.png")
        out = Path(scratch) / "out.jsonl"
        config = Path(scratch) / "exp.yaml"
        config.write_text(
            json.dumps(
                {
                    "datasets": [{"name": "sessions", "path": str(root)}],
                    "tasks": [{"name": "interval_episodes", "ocr_workers": 1}],
                    "format": "sharegpt",
                    "output": str(out),
                    "cache_dir": str(workspace / "cache"),
                    "report": str(Path(scratch) / "report.html"),
                }
            )
        )
        assert main(["--config", str(config), "-q"]) == 0
        assert "Search runs" in out.read_text()  # the good session was written
        summary = json.loads(out.with_name("out.jsonl.stats.json").read_text())
        assert not [k for k in summary["skipped"] if k.endswith(" failed")], summary["problems"]  # no plugin crashed
        assert not [d for d in summary["dropped"] if d["reason"] == "failed"], summary["dropped"]
