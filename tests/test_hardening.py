"""Hardening (issue 12), as an attacker or an unlucky user would meet it: outputs over inputs, broken and
hostile sessions, decompression bombs, full and read-only disks, killed builds, hostile configs. Real
files, real processes, real mounts (a private mount namespace: `unshare`), real tesseract."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from session_files import T0
from test_interval_episodes import RESULTS_PAGE, RUNS_PAGE, DrawnSession, render

ROOT = Path(__file__).resolve().parent.parent
BUILD = str(ROOT / "build_data.py")
SECRET = "OUTSIDE SECRET 4242"


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, BUILD, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=os.environ
    )


def good_session(root: Path, name: str = "20260101T000000Z-good") -> DrawnSession:
    """A session that makes one episode with screen text: click 'Search runs', results appear, type, Enter."""
    s = DrawnSession(root, name=name)
    s.event(0.1, "window", title="Runs - Chromium", app="chromium", bounds=[0, 0, 800, 600])
    s.frame(1.0, RUNS_PAGE)
    s.click(1.0, 90, 112)
    s.frame(2.0, RESULTS_PAGE, reason="after")
    t = s.type(3.0, "llama")
    s.keys(t, "enter")
    s.frame(t + 1, RESULTS_PAGE + [(40, 280, "1 result for llama")], reason="after")  # no two frames alike:
    s.save()  # a failed read is not served by another frame's read of the same pixels
    return s


def config(folder: Path, sessions: Path, **extra: object) -> Path:
    body = {
        "datasets": [{"name": "sessions", "path": str(sessions)}],
        "tasks": [{"name": "interval_episodes", "ocr_workers": 1, **extra.pop("task", {})}],  # type: ignore[dict-item]
        "format": "sharegpt",
        "output": str(folder / "out.jsonl"),
        "cache_dir": str(folder / "cache"),
        **extra,
    }
    path = folder / "exp.yaml"
    path.write_text(json.dumps(body))  # JSON is YAML
    return path


def stats(folder: Path) -> dict:
    return json.loads((folder / "out.jsonl.stats.json").read_text())


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# -- data loss: an output over an input or over another output ----------------------------------------------


@pytest.mark.parametrize(
    "where",
    ["report is output", "output is events.jsonl", "output inside a session", "output is the file input", "config"],
)
def test_an_output_over_an_input_or_another_output_is_refused_before_any_work(tmp_path, where):
    s = good_session(tmp_path / "sessions")
    events = s.path / "events.jsonl"
    (tmp_path / "in.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    before = {p: p.read_bytes() for p in (events, tmp_path / "in.jsonl")}
    exp = config(tmp_path, tmp_path / "sessions")
    args = {
        "report is output": ["--report", str(tmp_path / "out.jsonl")],
        "output is events.jsonl": ["--output-file", str(events)],
        "output inside a session": ["--output-file", str(s.path / "frames" / "rows.jsonl")],
        "output is the file input": ["--output-file", str(tmp_path / "in.jsonl")],
        "config": ["--output-file", str(exp)],
    }[where]
    if where == "output is the file input":
        exp.write_text(json.dumps({"datasets": [{"name": "file", "path": str(tmp_path / "in.jsonl")}]}))
    config_before = exp.read_bytes()
    result = cli("--config", str(exp), *args, cwd=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    named = {
        "report is output": ["report and output are the same file", str(tmp_path / "out.jsonl")],
        "output is events.jsonl": [f"output {events} is inside the input of datasets[0] (sessions)"],
        "output inside a session": ["is inside the input of datasets[0] (sessions)", str(tmp_path / "sessions")],
        "output is the file input": [f"output {tmp_path / 'in.jsonl'} is the input of datasets[0] (file)"],
        "config": [f"output {exp} is the input of the config"],
    }[where]
    assert all(part in line for part in named), line
    assert {p: p.read_bytes() for p in before} == before and exp.read_bytes() == config_before
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out.jsonl").exists()  # nothing was done


def in_mounts(mounts: dict[Path, str], script: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace where each path is a tmpfs with the given
    options (a small disk: size=64k; a read-only one: ro). Only the script sees them; $BUILD runs a build."""
    mount = "".join(f"mount -t tmpfs -o {opts} tmpfs {shlex.quote(str(p))} && " for p, opts in mounts.items())
    for path in mounts:
        path.mkdir(parents=True, exist_ok=True)
    unshare = ["unshare", "--mount", "--propagation", "private"] if os.geteuid() == 0 else ["unshare", "-rm"]
    env = {**os.environ, "BUILD": f"{shlex.quote(sys.executable)} {shlex.quote(BUILD)}"}
    return subprocess.run(
        [*unshare, "sh", "-c", mount + script], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


@pytest.mark.parametrize("where", ["output is a folder", "cache_dir is a file", "output under a file", "read-only"])
def test_paths_that_cannot_be_written_are_found_before_the_build(tmp_path, where):
    good_session(tmp_path / "sessions")
    exp = config(tmp_path, tmp_path / "sessions")
    if where == "output is a folder":
        (tmp_path / "out.jsonl").mkdir()
        message = f"output {tmp_path / 'out.jsonl'} is a folder"
    elif where == "cache_dir is a file":
        (tmp_path / "cache").write_text("")
        message = f"cache_dir {tmp_path / 'cache'} is a file"
    elif where == "output under a file":
        (tmp_path / "out").write_text("")
        exp = config(tmp_path, tmp_path / "sessions", output=str(tmp_path / "out" / "x" / "out.jsonl"))
        message = f"output: {tmp_path / 'out'} is a file"
    else:
        exp = config(tmp_path, tmp_path / "sessions", output=str(tmp_path / "ro" / "new" / "out.jsonl"))
        result = in_mounts({tmp_path / "ro": "ro,size=64k"}, f"$BUILD --config {exp}", tmp_path)
        assert result.returncode == 2 and f"output: cannot write in {tmp_path / 'ro'}" in error_line(result)
        assert not (tmp_path / "cache").exists()
        return
    result = cli("--config", str(exp), cwd=tmp_path)
    assert result.returncode == 2
    assert message in error_line(result)
    assert not (tmp_path / "cache").is_dir()  # no session was read: OCR would have made the cache


def test_a_full_output_disk_is_one_line_exit_1_and_the_earlier_output_stays(tmp_path):
    rows_in = [
        {"messages": [{"role": "user", "content": f"request {i} " + "x" * 500}, {"role": "assistant", "content": "ok"}]}
        for i in range(300)
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    disk = tmp_path / "disk"
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        json.dumps(
            {"datasets": [{"name": "file", "path": str(tmp_path / "in.jsonl")}], "output": str(disk / "out.jsonl")}
        )
    )
    result = in_mounts(
        {disk: "size=64k"},
        f"printf 'previous build\\n' > {disk}/out.jsonl && $BUILD --config {exp} -q; "
        f"echo rc=$?; ls -A {disk}; cat {disk}/out.jsonl",
        tmp_path,
    )
    assert "rc=1" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"error: {disk / 'out.jsonl'}: cannot write (No space left on device)" in result.stderr
    listing = result.stdout.split("rc=1", 1)[1].split()
    assert listing == ["out.jsonl", "previous", "build"]  # no temp file left, the earlier output intact


def test_a_full_disk_under_the_ocr_cache_keeps_the_screen_text(tmp_path):
    good_session(tmp_path / "sessions")
    cache = tmp_path / "cache"
    exp = config(tmp_path, tmp_path / "sessions", format="sharegpt")
    result = in_mounts(
        {cache: "size=16k"},
        f"dd if=/dev/zero of={cache}/fill bs=4k 2>/dev/null; $BUILD --config {exp} -q",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "cannot write the OCR cache (No space left on device)" in result.stderr
    assert result.stderr.count("OCR cache") == 1  # said once, not per frame
    assert "Search runs" in json.dumps(rows(tmp_path / "out.jsonl"))  # the screen text is there
    assert stats(tmp_path)["ocr"]["failed"] == 0


TESSERACT_FAILS_ONCE = """#!/bin/sh
# tesseract, except that the first call of the build fails (mkdir is atomic: one caller wins)
if mkdir "{marker}" 2>/dev/null; then echo "tesseract: simulated crash" >&2; exit 3; fi
exec tesseract "$@"
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_one_failed_tesseract_call_costs_one_frame_only(tmp_path, workers):
    s = good_session(tmp_path / "sessions")
    for i in range(4):  # enough frames for the process pool
        s.frame(20.0 + i, RESULTS_PAGE + [(40, 300 + 30 * i, f"line {i}")], reason="after")
    s.save()
    shim = tmp_path / "tesseract-once"
    shim.write_text(TESSERACT_FAILS_ONCE.format(marker=tmp_path / "failed-once"))
    shim.chmod(0o755)
    exp = config(
        tmp_path,
        tmp_path / "sessions",
        task={"ocr": {"name": "tesseract", "binary": str(shim)}, "ocr_workers": workers, "ocr_reuse": False},
    )
    result = cli("--config", str(exp), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    failed = [line for line in result.stderr.splitlines() if "OCR failed" in line]
    assert len(failed) == 1 and "tesseract: simulated crash" in failed[0], result.stderr
    assert str(s.path / "frames") in failed[0]  # named by the frame's path
    summary = stats(tmp_path)["ocr"]
    assert summary["failed"] == 1 and summary["read"] == summary["frames"] - 1
    assert "Search runs" in json.dumps(rows(tmp_path / "out.jsonl"))


# -- one bad input must not kill the build --------------------------------------------------------------------


def big_sparse_file(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(size)


def test_broken_and_hostile_sessions_are_warned_counted_and_the_good_one_written(tmp_path):
    root = tmp_path / "sessions"
    good_session(root)
    outside = tmp_path / "outside.png"
    render([(20, 20, SECRET)]).save(outside)

    def one_frame_session(name: str, file: str) -> DrawnSession:
        s = DrawnSession(root, name=name)
        s.event(0.1, "window", title="Runs - Chromium", app="chromium", bounds=[0, 0, 800, 600])
        s.event(1.0, "frame", file=file, monitor=0, width=800, height=600, reason="before", hash="x")
        s.click(1.0, 90, 112)
        s.save()
        return s

    one_frame_session("20260101T010000Z-absolute", str(outside))
    one_frame_session("20260101T020000Z-climbs", "../../outside.png")
    linked = one_frame_session("20260101T030000Z-link", "frames/link.png")
    (linked.path / "frames" / "link.png").symlink_to(outside)
    one_frame_session("20260101T040000Z-longname", "frames/" + "a" * 300 + ".png")
    bomb = one_frame_session("20260101T050000Z-bomb", "frames/bomb.png")
    Image.new("1", (12000, 12000)).save(bomb.path / "frames" / "bomb.png")  # 144 megapixels, 200 kB
    huge = one_frame_session("20260101T060000Z-huge", "frames/huge.png")
    big_sparse_file(huge.path / "frames" / "huge.png", 3 * 2**30)  # 3 GB, sparse: no disk used
    eventsdir = one_frame_session("20260101T070000Z-eventsdir", "frames/x.png")
    (eventsdir.path / "events.jsonl").unlink()
    (eventsdir.path / "events.jsonl").mkdir()
    good_session(root / "2026", name="20260102T000000Z-nested")
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("not a session")
    exp = config(tmp_path, root, report=str(tmp_path / "report.html"))
    measure = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print('maxrss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
        "sys.exit(r.returncode)"
    )
    result = subprocess.run(
        [sys.executable, "-c", measure, sys.executable, BUILD, "--config", str(exp)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    err = result.stderr
    assert result.returncode == 0, err
    assert "Traceback" not in err
    warned = {
        "absolute": f"frame file {outside} is outside the session (an absolute path); frame skipped",
        "climbs": "frame file ../../outside.png is outside the session (it climbs with '..')",
        "link": f"frame file frames/link.png is outside the session (a link to {outside})",
        "longname": "name too long (a part over 255 bytes)",
        "bomb": "frame file frames/bomb.png has too many pixels (12000x12000; at most 64 megapixels)",
        "huge": "frame file frames/huge.png is too large (3,072 MB; at most 64 MB)",
        "eventsdir": f"{eventsdir.path / 'events.jsonl'}: cannot be read (Is a directory)",
        "nested": f"{root / '2026'}: holds 1 session(s) a level further down (20260102T000000Z-nested, ...)",
        "not a session": f"{root / 'notes'}: no session.json; not a session, skipped",
    }
    for what, line in warned.items():
        assert sum(line in w for w in err.splitlines()) == 1, f"{what}: {line}\n{err}"
    counted = stats(tmp_path)["skipped"]
    assert counted["frames"] >= 6 and counted["sessions"] == 1
    assert counted["nested sessions"] == 1 and counted["not sessions"] == 1
    written = (tmp_path / "out.jsonl").read_text()
    assert "Search runs" in written  # the good session
    assert SECRET.split()[0] not in written and SECRET.split()[0] not in (tmp_path / "report.html").read_text()
    assert int(err.split("maxrss_kb ")[1].split()[0]) < 600_000  # nothing read whole: a 3 GB file, 144 Mpx


def test_a_decompression_bomb_is_a_warning_with_no_ocr_with_a_report_and_with_vision(tmp_path, fake_llm):
    root = tmp_path / "sessions"
    s = good_session(root)
    Image.new("1", (12000, 12000)).save(s.path / "frames" / "000001.png")  # the "after" frame, now a bomb
    exp = config(
        tmp_path,
        root,
        report=str(tmp_path / "report.html"),
        task={
            "ocr": None,
            "transcriber": {"name": "openai", "model": "m", "base_url": fake_llm.url, "api_key": "k", "vision": True},
        },
    )
    result = cli("--config", str(exp), cwd=tmp_path)
    assert "Traceback" not in result.stderr and "DecompressionBomb" not in result.stderr, result.stderr
    assert "frames/000001.png has too many pixels" in result.stderr
    assert (tmp_path / "report.html").exists()
    images = [p for r in fake_llm.requests for m in r.messages if isinstance(m["content"], list) for p in m["content"]]
    assert images and all(p["type"] == "text" or len(p["image_url"]["url"]) < 2_000_000 for p in images)


def test_timestamps_outside_the_session_and_bad_fields_are_named_per_line(tmp_path):
    root = tmp_path / "sessions"
    s = good_session(root)
    bad = [
        {"t": "NaN", "type": "mouse_move", "x": 1, "y": 1},
        {"t": -5, "type": "mouse_move", "x": 1, "y": 1},
        {"t": 1e300, "type": "mouse_move", "x": 1, "y": 1},
        {"t": T0 + 10 * 86400 * 365, "type": "mouse_move", "x": 1, "y": 1},
        {"t": T0 + 5, "type": "click", "x": "left", "y": 1},
        {"t": T0 + 5, "type": ["click"], "x": 1, "y": 1},
    ]
    s.save(extra_lines=[json.dumps(b) for b in bad] + ["x" * (2**20 + 10)])  # and a line too long to hold
    first = len(s.lines) + 1
    exp = config(tmp_path, root, report=str(tmp_path / "report.html"))
    result = cli("--config", str(exp), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    events = s.path / "events.jsonl"
    expected = [
        f"{events}:{first}: unreadable event skipped (mouse_move event, field t: Input should be a finite number",
        f"{events}:{first + 1}: time t=-5.0 is outside the session",
        f"{events}:{first + 2}: time t=1e+300 is outside the session",
        f"{events}:{first + 3}: time t={T0 + 10 * 86400 * 365!r} is outside the session",
        f"{events}:{first + 4}: unreadable event skipped (click event, field x: Input should be a valid integer",
        f"{events}:{first + 5}: unknown event type ['click'] skipped",
        f"{events}:{first + 6}: unreadable event skipped (line longer than 1,048,576 bytes)",
    ]
    for line in expected:
        assert line in result.stderr, f"{line}\n{result.stderr}"
    assert "validation error for tagged-union" not in result.stderr
    assert stats(tmp_path)["skipped"]["event lines"] == len(bad) + 1
    report = (tmp_path / "report.html").read_text()
    assert '"intervals":[[' in report  # the session's timeline is not emptied by a far-off time


# -- plugins that raise -----------------------------------------------------------------------------------------

PLUGINS = {
    "filter": (
        "@register_filter('boom')\ndef boom(episode):\n"
        "    if 'bad' in (episode.source.session or ''): raise RuntimeError('filter on fire')\n"
    ),
    "task": (
        "from toolbox.tasks.interval_episodes import IntervalEpisodes\n"
        "@register_task('boom')\nclass Boom(IntervalEpisodes):\n"
        "    def run(self, record):\n"
        "        if record.id.endswith('bad'): raise RuntimeError('task on fire')\n"
        "        yield from super().run(record)\n"
    ),
    "format": (
        "from toolbox.formats.sharegpt import ShareGPTFormat\n"
        "@register_format('boom')\nclass Boom(ShareGPTFormat):\n"
        "    def encode(self, episode):\n"
        "        if 'bad' in (episode.source.session or ''): raise KeyError('format on fire')\n"
        "        return super().encode(episode)\n"
    ),
}


@pytest.mark.parametrize("kind", ["filter", "task", "format"])
def test_a_plugin_that_raises_costs_its_record_named_and_counted(tmp_path, kind):
    root = tmp_path / "sessions"
    good_session(root)
    good_session(root, name="20260101T010000Z-bad")
    (tmp_path / "boom.py").write_text(
        "from toolbox.core.registry import register_filter, register_format, register_task\n" + PLUGINS[kind]
    )
    extra: dict = {"plugins": [str(tmp_path / "boom.py")]}
    if kind == "filter":
        extra["filters"] = ["boom"]
    elif kind == "format":
        extra["format"] = "boom"
    exp = config(tmp_path, root, **extra)
    if kind == "task":
        body = json.loads(exp.read_text())
        body["tasks"][0]["name"] = "boom"
        exp.write_text(json.dumps(body))
    result = cli("--config", str(exp), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if f"{kind} 'boom' failed on" in line]
    assert len(failures) == 1, result.stderr
    assert f"{kind} on fire" in failures[0]
    if kind == "task":
        assert f"session 20260101T010000Z-bad ({root / '20260101T010000Z-bad'})" in failures[0]
        assert stats(tmp_path)["skipped"] == {"task boom failed": 1}
    else:
        assert "episode " in failures[0]
        dropped = {(d["filter"], d["reason"]): d["count"] for d in stats(tmp_path)["dropped"]}
        assert dropped == {("format" if kind == "format" else "boom", "failed"): 1}
    assert len(rows(tmp_path / "out.jsonl")) == 1  # the other session's episode


def test_a_dataset_that_raises_is_named_and_the_other_datasets_are_written(tmp_path):
    good_session(tmp_path / "sessions")
    (tmp_path / "boom.py").write_text(
        "from toolbox.core.dataset import Dataset\nfrom toolbox.core.registry import register_dataset\n"
        "@register_dataset('boom')\nclass Boom(Dataset):\n"
        "    def records(self):\n        raise OSError(5, 'Input/output error')\n        yield\n"
    )
    exp = config(tmp_path, tmp_path / "sessions", plugins=[str(tmp_path / "boom.py")])
    body = json.loads(exp.read_text())
    body["datasets"].insert(0, "boom")
    exp.write_text(json.dumps(body))
    result = cli("--config", str(exp), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "dataset 'boom' failed on its first record: OSError: [Errno 5] Input/output error" in result.stderr
    assert stats(tmp_path)["skipped"] == {"dataset boom failed": 1}
    assert len(rows(tmp_path / "out.jsonl")) == 1


# -- hangs, memory, leftovers --------------------------------------------------------------------------------

LAUGHS = (  # the case had nine levels (8.5 GB); seven keep an unfixed build's test within reach
    "datasets: [sessions]\nfilters:\n  - name: llm_judge\n    model: m\n    extra_body:\n"
    "      x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"      x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 7))
)


def test_a_billion_laughs_config_is_refused_before_expansion(tmp_path):
    (tmp_path / "exp.yaml").write_text(LAUGHS)
    started = time.monotonic()
    result = cli("--config", str(tmp_path / "exp.yaml"), cwd=tmp_path, timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    assert "anchors and aliases expand to more than 100,000 values; refused" in error_line(result)


@pytest.mark.parametrize(
    "flag,message", [("--limit=-1", "--limit: Input should be greater than 0"), ("--max-length=0", "--max-length:")]
)
def test_a_bad_flag_value_is_blamed_on_the_flag_not_the_yaml(tmp_path, flag, message):
    good_session(tmp_path / "sessions")
    result = cli("--config", str(config(tmp_path, tmp_path / "sessions")), flag, cwd=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    assert line.startswith(f"error: {message}") and "exp.yaml" not in line


SLOW_ENGINE = """import time
from toolbox.core.registry import register_ocr_engine
from toolbox.ocr_engines.base import OcrEngine
@register_ocr_engine("slow")
class Slow(OcrEngine):
    def read(self, image):
        time.sleep(120)
        return []
"""


def children(pid: int) -> list[int]:
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            out.append(int(status.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_build_leaves_no_ocr_workers_running(tmp_path):
    s = good_session(tmp_path / "sessions")
    for i in range(8):
        s.frame(20.0 + i, RESULTS_PAGE + [(40, 300, f"line {i}")], reason="after")
    s.save()
    (tmp_path / "slow.py").write_text(SLOW_ENGINE)
    exp = config(
        tmp_path,
        tmp_path / "sessions",
        plugins=[str(tmp_path / "slow.py")],
        task={"ocr": "slow", "ocr_workers": 2, "ocr_reuse": False},
    )
    build = subprocess.Popen([sys.executable, BUILD, "--config", str(exp)], cwd=tmp_path, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(workers := children(build.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) >= 2, "the OCR pool did not start"
        time.sleep(1.0)  # the workers are inside the engine
        build.send_signal(signal.SIGKILL)
        build.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in workers), "OCR workers outlived the killed build"
    finally:
        for pid in [build.pid, *children(build.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- what a user is told ------------------------------------------------------------------------------------------


def test_a_build_that_writes_nothing_warns_and_exits_3(tmp_path):
    good_session(tmp_path / "sessions")
    exp = config(tmp_path, tmp_path / "sessions", filters=[{"name": "quality", "min_turns": 100}])
    result = cli("--config", str(exp), cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert f"nothing written to {tmp_path / 'out.jsonl'}" in result.stderr


def test_a_sessions_folder_with_only_nested_sessions_says_so_and_exits_3(tmp_path):
    good_session(tmp_path / "sessions" / "laptop")
    result = cli("--config", str(config(tmp_path, tmp_path / "sessions")), cwd=tmp_path)
    assert result.returncode == 3
    assert f"{tmp_path / 'sessions' / 'laptop'}: holds 1 session(s) a level further down" in result.stderr


def test_exit_codes_are_documented_in_help_and_readme():
    help_text = cli("--help", cwd=ROOT).stdout
    readme = (ROOT / "README.md").read_text()
    for code, meaning in [("0", "ok"), ("1", "failed"), ("2", "bad config"), ("3", "nothing written")]:
        assert f"{code} {meaning}" in " ".join(help_text.split()), help_text
        assert f"| {code} |" in readme and meaning in readme


def test_llm_cache_and_exports_are_private(tmp_path):
    from toolbox.llm.cache import CachedReply, ReplyCache

    os.umask(0o022)
    cache = ReplyCache(tmp_path / "llm")
    cache.put("ab" + "0" * 62, CachedReply(content="{}"))
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "llm", tmp_path / "llm" / "ab")} == {"0o700"}
    (tmp_path / "in.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    for target in ("x.parquet", "hf"):
        result = cli("export", str(tmp_path / "in.jsonl"), "--to", str(tmp_path / target), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        made = [tmp_path / target, *(tmp_path / target).rglob("*")]
        assert {oct(p.stat().st_mode & 0o777) for p in made} <= {"0o600", "0o700"}, target


@pytest.mark.parametrize("kind", ["lossy", "lossless", "extended"])
def test_a_webp_frame_is_measured_from_its_header_before_any_decode(tmp_path, kind):
    """The recorder's frames are WebP: their size is read from the file's first bytes (no
    decoder is started for it), and a header that claims too many pixels is refused as any
    other image's."""
    from toolbox.core.session import FrameFileError, check_frame_file

    image = Image.new("RGBA" if kind == "extended" else "RGB", (1920, 1080), (250, 250, 250, 0))
    path = tmp_path / "frame.webp"
    image.save(path, "WEBP", lossless=kind == "lossless")
    assert check_frame_file(path) == path
    data = bytearray(path.read_bytes())
    assert data[12:16] == {"lossy": b"VP8 ", "lossless": b"VP8L", "extended": b"VP8X"}[kind]
    if kind == "lossy":  # 14-bit width and height after the start code
        data[26:28], data[28:30] = (16000).to_bytes(2, "little"), (16000).to_bytes(2, "little")
    elif kind == "lossless":  # 14 bits each, minus one, after the signature byte
        bits = int.from_bytes(data[21:25], "little") & ~((1 << 28) - 1)
        data[21:25] = (bits | 15999 | (15999 << 14)).to_bytes(4, "little")
    else:  # the canvas, 24 bits each, minus one
        data[24:27], data[27:30] = (15999).to_bytes(3, "little"), (15999).to_bytes(3, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(FrameFileError, match=r"too many pixels \(16000x16000"):
        check_frame_file(path, "frames/frame.webp")
