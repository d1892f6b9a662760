"""The build as a user runs it: CLI, YAML, plugins, filters, determinism, atomic output."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from episodes import sample_episode

from toolbox.core import registry
from toolbox.core.filter import Drop
from toolbox.core.plugin import BuildContext

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def write_glaive(path: Path, n: int = 3, bad_rows: bool = True) -> None:
    from toolbox.formats.glaive import GlaiveFormat

    rows = [
        json.dumps(GlaiveFormat().encode(sample_episode(i, f"request number {i} about llama runs"))) for i in range(n)
    ]
    if bad_rows:
        rows.insert(1, '{"system": "x", "chat": "ASSISTANT: <functioncall> {broken <|endoftext|>"}')
        rows.insert(2, "not json at all")
        rows.append('{"system": "SYSTEM: You are a helpful assistant, with no access')  # truncated last line
    path.write_text("\n".join(rows) + "\n")


def write_config(folder: Path, body: str) -> Path:
    config = folder / "exp.yaml"
    config.write_text(body)
    return config


def test_demo_config_builds_valid_data_in_every_format(tmp_path):
    for fmt in ("glaive", "sharegpt", "openai"):
        out = tmp_path / f"demo.{fmt}.jsonl"
        result = cli("--config", "configs/demo.yaml", "--format", fmt, "--output-file", str(out))
        assert result.returncode == 0, result.stderr
        assert out.stat().st_size > 0
        assert "written" in result.stdout
        check = cli("validate", str(out), "--format", fmt)
        assert check.returncode == 0, check.stdout


def test_list_shows_every_kind_with_descriptions():
    result = cli("--list")
    assert result.returncode == 0
    for name in ("sessions", "file", "exact_dedupe", "quality", "max_length", "glaive", "sharegpt", "openai"):
        assert re.search(rf"^\s+{name}\s+\S", result.stdout, re.M), name


@pytest.mark.parametrize(
    "body,message",
    [
        ("datasets: [sessions]\nfilterz: []\n", "filterz: unknown key; did you mean 'filters'?"),
        ("datasets: [sessions]\nseed: many\n", "seed: Input should be a valid integer"),
        ("datasets: [sessions]\nfilters: [exact_dedup]\n", "filters[0]: unknown filter 'exact_dedupe'"),
        (
            "datasets: [sessions]\nfilters:\n  - name: quality\n    min_turn: 3\n",
            "filters[0] (quality).min_turn: unknown key; did you mean 'min_turns'?",
        ),
        (
            "datasets: [sessions]\nfilters:\n  - name: quality\n    min_turns: lots\n",
            "filters[0] (quality).min_turns: Input should be a valid integer",
        ),
        ("datasets: [{name: sessions\n", "exp.yaml:"),
        ("datasets: [sessions]\nformat: csv\n", "format: unknown format 'csv'"),
        ("datasets: [sessions]\nplugins: [nothere.py]\n", "plugins: file not found"),
    ],
)
def test_config_errors_are_one_line_with_the_key_path(tmp_path, body, message):
    result = cli("--config", str(write_config(tmp_path, body)))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert (
        message.replace("'exact_dedupe'", "'exact_dedup'") in lines[0]
        if "unknown filter" in message
        else message in lines[0]
    )
    if "unknown filter" in message:
        assert "did you mean 'exact_dedupe'" in lines[0]


def test_missing_config_file_is_a_clear_error(tmp_path):
    result = cli("--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml: config file not found" in result.stderr


def test_glaive_file_converts_to_openai_and_bad_rows_are_counted(tmp_path):
    write_glaive(tmp_path / "in.jsonl")
    config = write_config(
        tmp_path, "datasets:\n  - name: file\n    path: in.jsonl\nformat: openai\noutput: out.jsonl\n"
    )
    result = cli("--config", str(config))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    assert rows[0]["messages"][0] == {"role": "user", "content": "request number 0 about llama runs"}
    assert (
        "in.jsonl:2:" in result.stderr
        and "in.jsonl:3: line is not JSON" in result.stderr
        and "in.jsonl:6: truncated last line" in result.stderr
    )
    stats = json.loads((tmp_path / "out.jsonl.stats.json").read_text())
    assert stats["skipped"] == {"rows": 3} and stats["written"] == 3


def test_same_inputs_and_seed_give_byte_identical_output(tmp_path):
    write_glaive(tmp_path / "in.jsonl", n=20, bad_rows=False)
    config = write_config(
        tmp_path,
        "datasets:\n  - {name: file, path: in.jsonl}\nfilters: [exact_dedupe, near_dedupe, quality]\n"
        "format: sharegpt\noutput: a.jsonl\nseed: 7\n",
    )
    assert cli("--config", str(config)).returncode == 0
    assert cli("--config", str(config), "--output-file", str(tmp_path / "b.jsonl")).returncode == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_limit_builds_from_the_first_records_only(tmp_path):
    write_glaive(tmp_path / "in.jsonl", n=10, bad_rows=False)
    config = write_config(tmp_path, "datasets:\n  - {name: file, path: in.jsonl}\noutput: out.jsonl\n")
    assert cli("--config", str(config), "--limit", "4").returncode == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 4


def test_a_killed_build_leaves_no_partial_output_and_the_next_one_cleans_up(tmp_path):
    write_glaive(tmp_path / "in.jsonl", n=5, bad_rows=False)
    (tmp_path / "kill.py").write_text(
        "import os, signal\n"
        "from toolbox.core.registry import register_filter\n"
        "seen = []\n"
        "@register_filter('kill_at_3')\n"
        "def kill_at_3(episode):\n"
        "    seen.append(1)\n"
        "    if len(seen) == 3:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    (tmp_path / "out.jsonl").write_text("previous build\n")
    body = "datasets:\n  - {name: file, path: in.jsonl}\nplugins: [kill.py]\noutput: out.jsonl\n"
    result = cli("--config", str(write_config(tmp_path, body + "filters: [kill_at_3]\n")))
    assert result.returncode == -9
    assert (tmp_path / "out.jsonl").read_text() == "previous build\n"
    assert [p.name for p in tmp_path.glob(".out.jsonl.*.tmp")], "the killed build left its temp file"
    again = cli("--config", str(write_config(tmp_path, body)))
    assert again.returncode == 0, again.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 5
    left = {p.name for p in tmp_path.iterdir()} - {"__pycache__"}
    trainer_files = {"dataset_info.json", "out.jsonl.axolotl.yaml"}  # LLaMA-Factory's entry, axolotl's snippet
    assert left == {"exp.yaml", "in.jsonl", "kill.py", "out.jsonl", "out.jsonl.stats.json", *trainer_files}


def readme_filter_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- custom-filter -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README lost its custom filter example"
    return match.group(1)


def test_the_readme_custom_filter_works_as_written(tmp_path):
    code = readme_filter_example()
    assert len([line for line in code.splitlines() if line.strip()]) <= 13  # "about ten lines"
    (tmp_path / "my_filters.py").write_text(code)
    ok = sample_episode(1, "first request")
    secret = sample_episode(2, "second request")
    ok.metadata["windows"] = ["Weights & Biases - Chromium"]
    secret.metadata["windows"] = ["Sign in - Bank of Examples"]
    from toolbox.formats.openai import OpenAIFormat

    (tmp_path / "in.jsonl").write_text("".join(json.dumps(OpenAIFormat().encode(e)) + "\n" for e in (ok, secret)))
    # the openai format does not carry metadata, so read episodes from a tiny dataset plugin instead
    (tmp_path / "eps.py").write_text(
        "from toolbox.core.registry import register_dataset\n"
        "from toolbox.core.dataset import Dataset\n"
        "from toolbox.core.models import Episode\n"
        "import json, pathlib\n"
        "@register_dataset('eps')\n"
        "class Eps(Dataset):\n"
        "    def records(self):\n"
        f"        for line in pathlib.Path({str(tmp_path / 'eps.jsonl')!r}).read_text().splitlines():\n"
        "            yield Episode.model_validate_json(line)\n"
    )
    (tmp_path / "eps.jsonl").write_text(ok.model_dump_json() + "\n" + secret.model_dump_json() + "\n")
    match = re.search(r"<!-- custom-filter-yaml -->\s*```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert match
    yaml_text = match.group(1).replace("plugins: [my_filters.py]", "plugins: [my_filters.py, eps.py]")
    yaml_text = re.sub(r"datasets:\n(  .*\n)+", "datasets: [eps]\n", yaml_text)
    config = write_config(tmp_path, yaml_text + "output: out.jsonl\n")
    result = cli("--config", str(config))
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(rows) == 1 and "first request" in rows[0]
    assert re.search(r"dropped\s.*drop_window", result.stdout)


def test_validate_reports_bad_rows_with_line_numbers(tmp_path):
    good = json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
    (tmp_path / "x.jsonl").write_text(
        good + "\n" + json.dumps({"messages": [{"role": "user", "content": "a"}]}) + "\n{oops\n"
    )
    result = cli("validate", str(tmp_path / "x.jsonl"), "--format", "openai")
    assert result.returncode == 1
    assert "x.jsonl:2: no assistant message" in result.stdout
    assert "x.jsonl:3: not JSON" in result.stdout


def test_entry_point_plugins_register(tmp_path):
    (tmp_path / "thirdparty_filters.py").write_text(
        "from toolbox.core.registry import register_filter\n"
        "@register_filter('third_party')\n"
        "def third_party(episode):\n"
        "    '''A filter from an installed package.'''\n"
    )
    dist = tmp_path / "thirdparty_filters-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-filters\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[datamakr.plugins]\nthird = thirdparty_filters\n")
    result = cli("--list", env={"PYTHONPATH": str(tmp_path)})
    assert re.search(r"third_party\s+A filter from an installed package", result.stdout)


def test_an_installed_package_adds_a_subcommand_and_a_format(tmp_path):
    (tmp_path / "thirdparty_tools.py").write_text(
        "from toolbox.core.registry import register_command, register_format\n"
        "from toolbox.formats.openai import OpenAIFormat\n"
        "@register_format('openai_copy')\n"
        "class OpenAICopy(OpenAIFormat):\n"
        "    '''The openai format under another name.'''\n"
        "@register_command('hello')\n"
        "def hello(argv):\n"
        "    print('hello', *argv)\n"
        "    return 3\n"
    )
    dist = tmp_path / "thirdparty_tools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-tools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[datamakr.plugins]\ntools = thirdparty_tools\n")
    env = {"PYTHONPATH": str(tmp_path)}
    hello = cli("hello", "world", env=env)
    assert (hello.returncode, hello.stdout) == (3, "hello world\n")
    write_glaive(tmp_path / "in.jsonl", bad_rows=False)
    config = write_config(tmp_path, "datasets:\n  - name: file\n    path: in.jsonl\noutput: out.jsonl\n")
    built = cli("--config", str(config), "--format", "openai_copy", "-q", env=env)
    assert built.returncode == 0, built.stderr
    checked = cli("validate", str(tmp_path / "out.jsonl"), "--format", "openai_copy", env=env)
    assert checked.returncode == 0 and "3 rows, 0 invalid" in checked.stdout
    listed = cli("--list", env=env).stdout
    assert re.search(r"openai_copy\s+The openai format under another name", listed) and "hello" not in listed


def test_duplicate_names_are_refused():
    @registry.register_filter("twice_test")
    def first(episode):
        return None

    with pytest.raises(registry.PluginError, match="registered twice"):

        @registry.register_filter("twice_test")
        def second(episode):
            return None


def filter_instance(name, **options):
    cls = registry.get("filters", name)
    return cls(cls.Options(**options), BuildContext())


def test_max_length_trims_whole_turns_after_a_final_answer_or_drops():
    ep = sample_episode()
    ep.turns.insert(3, ep.turns[-1].model_copy())  # an early final answer after the first call
    short = filter_instance("max_length", max_tokens=185).check(ep)
    assert not isinstance(short, Drop)
    assert len(short.turns) == 4 and short.turns[-1].role == "assistant" and short.metadata["trimmed_turns"] == 4
    assert isinstance(filter_instance("max_length", max_tokens=185, mode="drop").check(ep), Drop)
    assert isinstance(filter_instance("max_length", max_tokens=20).check(ep), Drop)
    assert filter_instance("max_length", max_tokens=100000).check(ep) is ep


def test_quality_reasons():
    ep = sample_episode()
    assert filter_instance("quality").check(ep) is ep
    assert filter_instance("quality", min_turns=50).check(ep).reason == "too few turns"
    noise = sample_episode(text="▓▒░" * 40 + "ok")
    assert filter_instance("quality").check(noise).reason == "too much non-text"
    ep.turns = [t for t in ep.turns if not t.tool_calls and t.role != "tool"]
    assert filter_instance("quality", require_tool_call=True).check(ep).reason == "no tool call"


def test_exact_dedupe_folds_case_and_whitespace():
    flt = filter_instance("exact_dedupe")
    a, b, c = (
        sample_episode(1, "Find the run"),
        sample_episode(2, "find   the RUN "),
        sample_episode(3, "find another run"),
    )
    out = list(flt.apply(iter([a, b, c])))
    assert out[0] is a and out[2] is c
    assert out[1].reason == "exact duplicate" and "ep1" in out[1].detail


def test_per_episode_random_does_not_depend_on_order():
    ctx = BuildContext(seed=3)
    first = [ctx.rng(i).random() for i in ("a", "b")]
    assert [ctx.rng(i).random() for i in ("b", "a")] == first[::-1]
    assert BuildContext(seed=4).rng("a").random() != first[0]


@pytest.mark.parametrize(
    "dataset,message",
    [
        ("{name: sessions, path: nowhere}", "datasets (sessions).path: no such folder:"),
        ("{name: file, path: missing.jsonl}", "datasets (file).path: no such file:"),
    ],
)
def test_a_dataset_path_that_does_not_exist_is_an_error_not_an_empty_build(tmp_path, dataset, message):
    result = cli("--config", str(write_config(tmp_path, f"datasets: [{dataset}]\noutput: out.jsonl\n")))
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


SESSIONS = ROOT / "examples/sessions"


def session_config(folder: Path, tasks: str, extra: str = "") -> Path:
    """The sample session (OCR from the repository's cache) with the given `tasks:` YAML."""
    return write_config(
        folder,
        f"datasets: [{{name: sessions, path: {SESSIONS}}}]\ntasks:\n{tasks}output: out.jsonl\n"
        f"cache_dir: {ROOT / '.cache/datamakr'}\n{extra}",
    )


PRIVATE_TASK = (
    "  - name: interval_episodes\n    ocr: tesseract\n    exclude_windows: ['notes\\.txt']\n"
    "    transcriber: {name: heuristic, per: interval}\n"
)
NOOP_TASK = (
    "from toolbox.core.registry import register_task\nfrom toolbox.core.task import Task\n"
    "from toolbox.core.session import Session\n"
    "@register_task('noop')\nclass Noop(Task):\n    '''Makes nothing.'''\n    accepts = (Session,)\n"
    "    def run(self, record):\n        return iter(())\n"
)


def test_tasks_flag_selects_the_yaml_tasks_with_their_options(tmp_path):
    config = session_config(tmp_path, PRIVATE_TASK)
    result = cli("--config", str(config), "--tasks", "interval_episodes")
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "out.jsonl.stats.json").read_text())
    # the sample's note is written in one interval (notes.txt): dropped by the YAML's exclusion
    assert {"filter": "interval_episodes", "reason": "excluded window", "count": 1} in stats["dropped"]
    assert "notes" not in (tmp_path / "out.jsonl").read_text()
    whole = cli("--config", str(config), "--output-file", str(tmp_path / "all.jsonl"))
    assert whole.returncode == 0 and (tmp_path / "all.jsonl").read_bytes() == (tmp_path / "out.jsonl").read_bytes()


def test_tasks_flag_never_drops_the_yaml_options_silently(tmp_path):
    (tmp_path / "noop.py").write_text(NOOP_TASK)
    config = session_config(tmp_path, PRIVATE_TASK, "plugins: [noop.py]\n")
    result = cli("--config", str(config), "--tasks", "noop")
    assert result.returncode == 2 and not (tmp_path / "out.jsonl").exists()
    (line,) = result.stderr.strip().splitlines()
    assert "'noop'" in line and "tasks[0] (interval_episodes): ocr, exclude_windows, transcriber" in line
    # with no options in the YAML's tasks, nothing is lost: the named task runs with its defaults
    plain = session_config(tmp_path, "  - interval_episodes\n", "plugins: [noop.py]\n")
    assert cli("--config", str(plain), "--tasks", "noop", "-q").returncode == 3  # ran, made nothing (not exit 2)


@pytest.mark.parametrize("dedupe", ["exact_dedupe", "near_dedupe"])
def test_the_same_session_read_twice_is_written_once(tmp_path, dedupe):
    config = write_config(
        tmp_path,
        f"datasets:\n  - {{name: sessions, path: {SESSIONS}}}\n  - {{name: sessions, path: {SESSIONS}}}\n"
        f"tasks: [{{name: interval_episodes, ocr: tesseract}}]\nfilters: [{dedupe}]\noutput: out.jsonl\n"
        f"cache_dir: {ROOT / '.cache/datamakr'}\n",
    )
    result = cli("--config", str(config))
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "out.jsonl.stats.json").read_text())
    assert stats["episodes"] == 2 and stats["written"] == 1
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1


def test_formats_take_options_and_come_from_the_registry_everywhere(tmp_path):
    write_glaive(tmp_path / "in.jsonl", bad_rows=False)
    (tmp_path / "fmt.py").write_text(
        "from toolbox import Options, register_format\nfrom toolbox.formats.openai import OpenAIFormat\n"
        "@register_format('openai_system')\nclass OpenAISystem(OpenAIFormat):\n"
        "    '''openai rows with a system prompt of one's choosing.'''\n"
        "    class Options(Options):\n        system: str = 'You help.'\n"
        "    def encode(self, episode):\n"
        "        return super().encode(episode.model_copy(update={'system': self.options.system}))\n"
    )
    body = "datasets: [{name: file, path: in.jsonl}]\nplugins: [fmt.py]\noutput: out.jsonl\n"
    config = write_config(tmp_path, body + "format: {name: openai_system, system: Be brief.}\n")
    assert cli("--config", str(config), "-q").returncode == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["messages"][0] for row in rows] == [{"role": "system", "content": "Be brief."}] * 3
    wrong = cli("--config", str(write_config(tmp_path, body + "format: {name: openai_system, sytem: x}\n")))
    assert wrong.returncode == 2 and "format (openai_system).sytem: unknown key; did you mean 'system'?" in wrong.stderr
    plain = write_config(tmp_path, body + "format: {name: openai}\n")
    assert cli("--config", str(plain), "--format", "sharegpt", "-q").returncode == 0  # the flag picks any format
    assert "conversations" in (tmp_path / "out.jsonl").read_text()


def test_use_vision_without_a_transcriber_that_sends_frames_is_an_error(tmp_path):
    result = cli("--config", "configs/demo.yaml", "--use-vision", "--output-file", str(tmp_path / "v.jsonl"))
    assert result.returncode == 2 and not (tmp_path / "v.jsonl").exists()
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --use-vision:") and "heuristic" in line
    audit = cli("audit", "--config", "configs/demo.yaml", "--use-vision")
    assert audit.returncode == 2 and len(audit.stderr.strip().splitlines()) == 1 and "--use-vision:" in audit.stderr


def test_build_and_list_are_subcommands_too(tmp_path):
    listed = cli("list")
    assert listed.returncode == 0 and re.search(r"^\s+exact_dedupe\s+\S", listed.stdout, re.M)
    built = cli("build", "--config", "configs/demo.yaml", "--output-file", str(tmp_path / "d.jsonl"), "-q")
    assert built.returncode == 0 and (tmp_path / "d.jsonl").stat().st_size > 0


def test_validate_detects_the_format(tmp_path):
    for name in ("glaive", "sharegpt", "openai"):
        fmt = registry.get("formats", name)()
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(fmt.encode(sample_episode(i))) + "\n" for i in range(3)))
        result = cli("validate", str(path))
        assert result.returncode == 0 and result.stdout.endswith(f"3 rows, 0 invalid ({name}, detected)\n")
    (tmp_path / "broken.jsonl").write_text('{"messages": [{"role": "user", "content": "a"}]}\n' * 2)
    broken = cli("validate", str(tmp_path / "broken.jsonl"))
    assert broken.returncode == 2 and "--format" in broken.stderr  # nothing valid: it cannot guess, it says so


def test_validate_says_what_a_file_that_is_not_jsonl_is(tmp_path):
    import gzip
    import zipfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = '{"chat": "USER: hi"}\n'
    pq.write_table(pa.table({"chat": ["x"]}), tmp_path / "data.parquet")
    (tmp_path / "data.jsonl.gz").write_bytes(gzip.compress(rows.encode()))
    with zipfile.ZipFile(tmp_path / "data.zip", "w") as archive:
        archive.writestr("data.jsonl", rows)
    (tmp_path / "page.jsonl").write_text("<!DOCTYPE html>\n<html><body>Sign in</body></html>\n")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    expected = {
        "data.parquet": "a Parquet file",
        "data.jsonl.gz": "gzip-compressed",
        "data.zip": "a zip archive",
        "page.jsonl": "an HTML page",
        "table.csv": "text with no JSON",
    }
    for name, what in expected.items():
        result = cli("validate", str(tmp_path / name))
        assert result.returncode == 2 and result.stdout == "", name
        (line,) = result.stderr.strip().splitlines()
        assert f"{name} is {what}" in line and line.endswith("not JSONL")


def on_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run a command with a pseudo-terminal (120 columns) as its stdin, stdout and stderr."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(args, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env={**os.environ})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode(errors="replace")


def test_llm_steps_show_a_bar_with_total_and_eta_on_a_terminal_only(fake_llm, tmp_path):
    from fake_llm_server import Reply

    fake_llm.responder = lambda body: Reply.json({"score": 5, "reason": "fine"}, delay=0.3)
    write_glaive(tmp_path / "in.jsonl", n=6, bad_rows=False)
    config = write_config(
        tmp_path,
        "datasets: [{name: file, path: in.jsonl}]\n"
        f"filters: [{{name: llm_judge, model: m, base_url: {fake_llm.url}, api_key: k, concurrency: 2}}]\n"
        "output: out.jsonl\n",
    )
    code, screen = on_terminal([sys.executable, str(ROOT / "build_data.py"), "--config", str(config)], tmp_path)
    assert code == 0, screen
    assert re.search(r"LLM judge: +\d+%\|[^|]*\| [1-5]/6 \[\d\d:\d\d<\d\d:\d\d", screen), (
        screen
    )  # done/total [spent<left
    piped = cli("--config", str(config), "--output-file", str(tmp_path / "again.jsonl"))
    assert piped.returncode == 0 and "LLM judge" not in piped.stderr + piped.stdout  # a log gets no bar
