"""The build report without a browser: the pipeline's episodes log, the report subcommand, and
how episode metadata becomes frames with clicks and OCR boxes."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from PIL import Image
from report_sample import make_sample_build, make_sample_session

from toolbox.cli import main
from toolbox.core.models import Episode, EpisodeEvidence, LoggedEpisode, Source, ToolCall, Turn
from toolbox.report import read_episodes_log
from toolbox.report.collect import episode_evidence, episode_frames

BUILD_YAML = """\
datasets:
  - name: sessions
    path: sessions
tasks:
  - name: interval_episodes
    ocr: null
    transcriber: {{name: heuristic, per: interval}}
filters:
  - exact_dedupe
  - name: quality
    min_turns: 5
format: {fmt}
output: out/data.jsonl
"""


def page_data(html: Path) -> dict:
    match = re.search(
        r'<script id="report-data" type="application/json">(.*?)</script>', html.read_text(encoding="utf-8"), re.S
    )
    assert match, "the page carries its data"
    return orjson.loads(match.group(1))


@pytest.fixture(scope="module")
def real_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real build of a recorded session with --report: 3 intervals, 1 kept, 2 dropped."""
    root = tmp_path_factory.mktemp("build")
    make_sample_session(root / "sessions")
    (root / "build.yaml").write_text(BUILD_YAML.format(fmt="openai"))
    assert main(["--config", str(root / "build.yaml"), "--report", str(root / "out" / "report.html"), "-q"]) == 0
    return root


def test_build_with_report_logs_every_episode_with_its_drop_reason(real_build: Path) -> None:
    problems: list[str] = []
    rows = list(read_episodes_log(real_build / "out" / "data.jsonl.episodes.jsonl", problems))
    assert problems == []
    assert sorted((r.status, r.filter, r.reason) for r in rows) == [
        ("dropped", "exact_dedupe", "exact duplicate"),
        ("dropped", "quality", "too few turns"),
        ("kept", None, None),
    ]
    assert all(r.episode is not None and r.episode.metadata["frames"] for r in rows)
    stats = orjson.loads((real_build / "out" / "data.jsonl.stats.json").read_bytes())
    kept = [r for r in rows if r.status == "kept"]
    assert len(kept) == stats["written"] == 1 and kept[0].tokens == stats["tokens"]


def test_build_report_page_shows_kept_and_dropped_episodes_with_thumbnails(real_build: Path) -> None:
    data = page_data(real_build / "out" / "report.html")
    assert {e["status"] for e in data["episodes"]} == {"kept", "dropped"}
    assert sorted(d["reason"] for d in data["summary"]["dropped"]) == ["exact duplicate", "too few turns"]
    frames = [f for e in data["episodes"] for f in e["frames"]]
    assert frames and not any(f.get("missing") for f in frames)
    for frame in frames:
        thumb = real_build / "out" / frame["thumb"]
        assert thumb.suffix == ".webp" and max(Image.open(thumb).size) <= 400
        assert (real_build / "out" / frame["full"]).resolve().is_file()  # the recorded frame, referenced in place
    assert (real_build / "out" / "report_files").stat().st_mode & 0o077 == 0  # screens are private
    assert (real_build / "out" / "report.html").stat().st_mode & 0o077 == 0
    clicks = [m for f in frames for m in f["marks"]]
    assert clicks and all((m["x"], m["y"]) == (160, 115) for m in clicks)
    line = data["sessions"]["20260401T090000Z-test"]
    assert len(line["intervals"]) == 3 and line["task"] == "File the expense report"


def test_no_episodes_log_unless_a_report_is_asked_for(tmp_path: Path) -> None:
    make_sample_session(tmp_path / "sessions")
    (tmp_path / "build.yaml").write_text(BUILD_YAML.format(fmt="sharegpt"))
    assert main(["--config", str(tmp_path / "build.yaml"), "-q"]) == 0
    assert (tmp_path / "out" / "data.jsonl").exists()
    assert not (tmp_path / "out" / "data.jsonl.episodes.jsonl").exists()
    assert not list(tmp_path.glob("**/*.html"))


def test_drops_made_before_an_episode_existed_are_logged(tmp_path: Path) -> None:
    plugin = tmp_path / "gate.py"
    plugin.write_text(
        "from toolbox.core.models import Episode\n"
        "from toolbox.core.registry import register_task\n"
        "from toolbox.core.task import Task\n"
        "@register_task('gate')\n"
        "class Gate(Task):\n"
        "    accepts = (Episode,)\n"
        "    def run(self, record):\n"
        "        if 'skip' in record.text():\n"
        "            self.ctx.stats.drop('gate', 'no transcript', 'interval/7', 'model refused')\n"
        "        else:\n"
        "            record.metadata['handle'] = object()  # not JSON: logged without metadata, build goes on\n"
        "            yield record\n"
    )
    rows = [
        {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}
        for text in ("hello there", "skip me")
    ]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    (tmp_path / "b.yaml").write_text(
        "datasets: [{name: file, path: in.jsonl}]\ntasks: [gate]\nplugins: [gate.py]\noutput: out.jsonl\nreport: r.html\n"
    )
    assert main(["--config", str(tmp_path / "b.yaml"), "-q"]) == 0
    logged = list(read_episodes_log(tmp_path / "out.jsonl.episodes.jsonl", []))
    assert [(r.status, r.reason, r.episode is None) for r in logged] == [
        ("kept", None, False),
        ("dropped", "no transcript", True),
    ]
    assert logged[0].episode.metadata == {}
    stats = orjson.loads((tmp_path / "out.jsonl.stats.json").read_bytes())
    assert (
        stats["written"] == 1
        and stats["skipped"] == {"episode metadata": 1}
        and "metadata is not JSON" in stats["problems"][0]
    )
    data = page_data(tmp_path / "r.html")
    dropped = [e for e in data["episodes"] if e["status"] == "dropped"]
    assert dropped[0]["id"] == "interval/7" and dropped[0]["drop"]["detail"] == "model refused"


def test_report_subcommand_reads_a_plain_output_file_without_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No episodes log (e.g. a glaive file from elsewhere): the episodes come from the file itself."""
    from toolbox.formats.glaive import GlaiveFormat

    episode = Episode(
        id="e1",
        turns=[
            Turn(role="user", content="What is the weather in Oslo?"),
            Turn(role="assistant", tool_calls=[ToolCall(id="c1", name="get_weather", arguments={"city": "Oslo"})]),
            Turn(role="tool", tool_call_id="c1", name="get_weather", content='{"temp": 3}'),
            Turn(role="assistant", content="It is 3 degrees."),
        ],
        source=Source(dataset="test"),
    )
    glaive = tmp_path / "g.jsonl"
    glaive.write_bytes(orjson.dumps(GlaiveFormat().encode(episode)) + b"\n" + b"{not json\n")
    assert main(["report", str(glaive)]) == 0
    report = tmp_path / "g.report.html"
    data = page_data(report)
    assert len(data["episodes"]) == 1 and data["episodes"][0]["frames"] == []
    assert [t["role"] for t in data["episodes"][0]["turns"]] == ["user", "assistant", "tool", "assistant"]
    assert any("g.jsonl:2" in p for p in data["problems"])  # the bad row is named, not fatal
    assert "1 episodes (1 kept, 0 dropped)" in capsys.readouterr().out


def test_report_subcommand_errors_name_the_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_embedded_frames_make_a_single_file(tmp_path: Path) -> None:
    build = make_sample_build(tmp_path, episodes=4, sessions=1, drop_every=0)
    report = tmp_path / "one.html"
    assert main(["report", str(build.output), "-o", str(report), "--frames", "embed"]) == 0
    data = page_data(report)
    frames = [f for e in data["episodes"] for f in e["frames"]]
    assert len(frames) == 8 and all(
        f["thumb"].startswith("data:image/webp;base64,") and f["full"].startswith("data:image/webp") for f in frames
    )
    assert not (tmp_path / "one_files").exists()


def test_bad_log_lines_and_missing_frames_are_reported_not_fatal(tmp_path: Path) -> None:
    build = make_sample_build(tmp_path, episodes=3, sessions=1, drop_every=0)
    with build.episodes_log.open("ab") as handle:
        handle.write(b'{"status": "kept"}\n')
    (build.sessions[0] / "frames" / "000000.png").unlink()
    report = tmp_path / "r.html"
    assert main(["report", str(build.output), "-o", str(report)]) == 0
    data = page_data(report)
    assert len(data["episodes"]) == 3
    assert any(p.startswith(f"{build.episodes_log}:4: not an episode log row") for p in data["problems"])
    assert any("000000.png: frame file not found" in p for p in data["problems"])
    assert data["episodes"][0]["frames"][0] == {**data["episodes"][0]["frames"][0], "missing": True}


def _episode(metadata: dict) -> Episode:
    return Episode(id="x", turns=[Turn(role="user", content="hi")], source=Source(dataset="t"), metadata=metadata)


def test_clicks_land_on_their_frame_in_frame_pixels(tmp_path: Path) -> None:
    frames = [
        {"path": "frames/1.png", "t": 10.0, "width": 800, "height": 600, "reason": "before"},
        {"path": "frames/2.png", "t": 20.0, "width": 800, "height": 600, "reason": "after"},
    ]
    actions = [
        {
            "kind": "click",
            "t": 11,
            "x": 2120,
            "y": 300,
            "frame_before": "frames/1.png",
            "frame_x": 100,
            "frame_y": 150,
        },  # task-mapped
        {
            "kind": "drag",
            "t": 21,
            "x": 50,
            "y": 60,
            "x2": 70,
            "y2": 90,
        },  # no frame before it: the last one taken, as is
        {"kind": "type", "t": 22, "text": "hello"},  # no point: not drawn
    ]
    ocr = [{"text": "Save", "box": [10, 20, 60, 40], "conf": 0.9, "mid": [0.04, 0.05]}]
    evidence = EpisodeEvidence.model_validate(
        {
            "session_path": str(tmp_path),
            "frames": frames[::-1],
            "actions": actions,
            "ocr": ocr,
            "main_frame": "frames/2.png",
        }
    )
    got = episode_frames(evidence)
    assert [f.source for f in got] == [tmp_path / "frames/1.png", tmp_path / "frames/2.png"]  # in time order
    assert [(m["n"], m["x"], m["y"]) for m in got[0].marks] == [(1, 100, 150)]
    assert got[1].marks == [{"n": 2, "kind": "drag", "x": 50, "y": 60, "x2": 70, "y2": 90}]
    assert got[0].ocr == [] and got[1].ocr == [[10, 20, 60, 40, "Save", 0.9]]


def test_metadata_that_is_no_evidence_is_named_and_shown_without_frames() -> None:
    problems: list[str] = []
    assert episode_evidence(_episode({"llm_judge": {"score": 4}, "trimmed_turns": 2}), problems) == EpisodeEvidence()
    assert problems == []  # other keys of filters and formats are not evidence
    assert (
        episode_evidence(_episode({"windows": "Inbox", "frames": [{"file": "a.png"}]}), problems) == EpisodeEvidence()
    )
    assert len(problems) == 1 and problems[0].startswith("episode x: its metadata is not an interval's evidence")


def test_logged_episode_round_trips_through_the_log_format(tmp_path: Path) -> None:
    entry = LoggedEpisode(
        status="dropped",
        id="x",
        filter="quality",
        reason="too short",
        detail="1 turn",
        episode=_episode({"windows": ["A"]}),
    )
    log = tmp_path / "log.jsonl"
    log.write_bytes(entry.model_dump_json().encode() + b"\n")
    assert list(read_episodes_log(log, [])) == [entry]
