"""The data loads the way trainers load it: HF `datasets` JSON loading (LLaMA-Factory, axolotl)."""

import json
import os

import pytest
from episodes import sample_episode

from toolbox.core import registry
from toolbox.core.models import ToolCall, ToolSpec

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def varied_episodes():
    """Rows whose tools and arguments differ in shape, which trips Arrow's schema inference."""
    a = sample_episode(1)
    b = sample_episode(2, "another request")
    b.tools = [
        ToolSpec(
            name="set_volume",
            description="",
            parameters={"type": "object", "properties": {"level": {"type": "integer"}, "query": {"type": "object"}}},
        )
    ]
    b.turns[1].tool_calls = [ToolCall(id="c1", name="set_volume", arguments={"level": 3, "query": {"nested": [1, 2]}})]
    b.turns[3].tool_calls = [ToolCall(id="c2", name="set_volume", arguments={"level": 4})]
    b.turns = b.turns[:5] + b.turns[6:]
    return [a, b]


@pytest.mark.parametrize("name", ["glaive", "sharegpt", "openai"])
def test_output_loads_with_hf_datasets(tmp_path, name):
    from datasets import load_dataset

    fmt = registry.get("formats", name)()
    path = tmp_path / f"{name}.jsonl"
    rows = [fmt.encode(e) for e in varied_episodes()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(data) == 2
    if name == "sharegpt":
        assert data[1]["conversations"][1]["from"] == "function_call"
        assert json.loads(data[1]["tools"])[0]["name"] == "set_volume"
    if name == "glaive":
        assert data[0]["chat"].startswith("USER: ")


def test_export_writes_a_dataset_that_loads_back(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from datasets import load_from_disk

    fmt = registry.get("formats", "sharegpt")()
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps(fmt.encode(e)) + "\n" for e in varied_episodes()))
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, str(root / "build_data.py"), "export", str(src), "--to", str(tmp_path / "hf")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = load_from_disk(str(tmp_path / "hf"))
    assert len(data) == 2 and data[0]["conversations"][0]["from"] == "human"
