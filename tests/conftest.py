"""Fixtures every test file shares."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fake_llm_server import FakeLLMServer  # noqa: E402

from tests.x11 import XServer, missing_tools  # noqa: E402


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads a real key or endpoint from the environment: the LLM tests talk only to
    the loopback server they start."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """An OpenAI-compatible server on 127.0.0.1 for one test (see fake_llm_server.py)."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def x11() -> Iterator[XServer]:
    """A fresh Xvfb + openbox for one test. Fails, naming the tools, if they are missing: a
    recorder test that skips would hide a broken install."""
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"needs {', '.join(missing)}: run `bash scripts/dev.sh test` as root, or install .ci/apt-packages.txt"
        )
    with XServer() as xs:
        yield xs
