"""datamakr as an installed package: the wheel, its `datamakr` command, a third-party plugin
package found through the `datamakr.plugins` entry points, and a core install that is enough
for the demo.

The wheels are installed with `pip install --no-deps --target` and run with PYTHONPATH, so the
dependencies come from the test's own environment (making a venv and downloading them would take
minutes); what is checked is the wheel itself: its packages, package data, entry points and
console script, run from outside the repository."""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLUGIN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "datamakr-longest"
version = "1.0"

[project.entry-points."datamakr.plugins"]
longest = "datamakr_longest"
"""

PLUGIN_MODULE = '''\
"""A third-party filter: keep only episodes with at least `min_calls` tool calls."""

from toolbox import Drop, Episode, Filter, Options, register_filter


@register_filter("min_calls")
class MinCalls(Filter):
    """Drop episodes with fewer than `min_calls` tool calls (from the datamakr-longest package)."""

    class Options(Options):
        min_calls: int = 1

    def check(self, episode: Episode) -> Episode | Drop:
        calls = episode.tool_call_count()
        return episode if calls >= self.options.min_calls else Drop("too few calls", f"{calls}")
'''


def pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """datamakr's wheel, built from a copy of the sources, and the plugin package, installed into
    one folder; `run(...)` runs the installed `datamakr` command from outside the repository."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("toolbox", "recorder"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    plugin = tmp / "plugin"
    plugin.mkdir()
    (plugin / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (plugin / "datamakr_longest.py").write_text(PLUGIN_MODULE)
    site = tmp / "site"
    pip("wheel", "--no-deps", "-w", str(tmp / "wheels"), str(source))
    (wheel,) = (tmp / "wheels").glob("datamakr-*.whl")
    pip("install", "--no-deps", "--target", str(site), str(wheel), str(plugin))
    work = tmp / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(site / "bin/datamakr"), *args], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )

    yield SimpleNamespace(site=site, work=work, wheel=wheel, run=run, env=env)


def test_the_installed_command_builds_the_sample_from_outside_the_repository(installed):
    where = subprocess.run(
        [sys.executable, "-c", "import toolbox; print(toolbox.__file__)"],
        cwd=installed.work,
        env=installed.env,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed.site)  # the wheel's code, not the repository's
    version = installed.run("--version")
    assert version.returncode == 0 and version.stdout.strip() == "datamakr 0.1.0"
    out = installed.work / "out/demo.jsonl"
    built = installed.run(
        "build", "--config", str(ROOT / "configs/demo.yaml"), "--output-file", str(out), "--report", "demo.html"
    )
    assert built.returncode == 0, built.stderr
    assert out.stat().st_size > 0 and (installed.work / "demo.html").stat().st_size > 0  # report template shipped
    checked = installed.run("validate", str(out))
    assert checked.returncode == 0, checked.stdout
    usage = installed.run()
    assert usage.returncode == 2
    for command in ("build", "record", "validate", "export", "report", "audit", "list"):
        assert f"\n  {command} " in usage.stderr


def test_a_plugin_package_registers_through_its_entry_point(installed):
    listed = installed.run("list")
    assert "min_calls" in listed.stdout and "datamakr-longest" in listed.stdout
    (installed.work / "exp.yaml").write_text(
        f"datasets: [{{name: sessions, path: {ROOT / 'examples/sessions'}}}]\n"
        "tasks: [{name: interval_episodes, ocr: tesseract, transcriber: {name: heuristic, per: interval}}]\n"
        f"filters: [{{name: min_calls, min_calls: 2}}]\noutput: out/long.jsonl\ncache_dir: {ROOT / '.cache/datamakr'}\n"
    )
    built = installed.run("build", "--config", "exp.yaml")
    assert built.returncode == 0, built.stderr
    assert "min_calls: too few calls" in built.stdout
    rows = [json.loads(line) for line in (installed.work / "out/long.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(sum(len(m.get("tool_calls") or []) for m in row["messages"]) >= 2 for row in rows)


BLOCKER = """\
import sys
BLOCKED = set({blocked!r})
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the core install)", name=name)
sys.meta_path.insert(0, Blocker())
"""


def test_the_core_install_is_enough_for_the_demo(tmp_path):
    """Every module that only an extra installs is made unimportable; the demo still builds."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(req) for req in project["dependencies"]}
    extras = {_name(req) for reqs in project["optional-dependencies"].values() for req in reqs} - core
    extras.discard(project["name"])  # `all` names the other extras through the project itself
    modules = importlib.metadata.packages_distributions()
    blocked = {module for module, dists in modules.items() if {_norm(d) for d in dists} & extras}
    assert {"openai", "datasets", "pynput", "jsonschema", "dotenv"} <= blocked  # the extras are installed here
    (tmp_path / "sitecustomize.py").write_text(BLOCKER.format(blocked=sorted(blocked)))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = tmp_path / "demo.jsonl"
    for args in (["--list"], ["--config", str(ROOT / "configs/demo.yaml"), "--output-file", str(out)]):
        result = subprocess.run(
            [sys.executable, str(ROOT / "build_data.py"), *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0
    # what needs an extra says which, in one line
    for args, extra in (
        (["export", str(out), "--to", str(tmp_path / "hf")], "hf"),
        (["--config", str(ROOT / "configs/llm.yaml"), "--output-file", str(tmp_path / "llm.jsonl")], "llm"),
    ):
        result = subprocess.run(
            [sys.executable, str(ROOT / "build_data.py"), *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert result.returncode == 2 and f"pip install 'datamakr[{extra}]'" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def _name(requirement: str) -> str:
    """The distribution a requirement names: `datamakr[llm]` -> datamakr, `numpy>=1.26` -> numpy."""
    for stop in "[<>=!~;( ":
        requirement = requirement.split(stop)[0]
    return _norm(requirement)


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
