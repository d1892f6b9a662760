"""The data loads the way trainers load it: HF `datasets` JSON loading (LLaMA-Factory, axolotl)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

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


# -- vision formats ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vision_build(tmp_path_factory):
    """A drawn session with clicks, built once in each vision format."""
    from vision_sessions import build, click_session, corners

    root = tmp_path_factory.mktemp("vision")
    sessions = click_session(root / "sessions", (1920, 1080), corners((1920, 1080))[:4]).parent
    return {fmt: build(root, sessions, fmt, name=fmt) for fmt in ("llamafactory_vision", "openai_vision", "opencua")}


@pytest.fixture
def llamafactory_data(monkeypatch):
    """LLaMA-Factory's own dataset parser and converters (llamafactory/data/parser.py and
    converter.py, `pip install --no-deps llamafactory`), imported without the trainer stack its
    package __init__ files pull in (torch, torchaudio, peft, transformers): its packages are
    entered as bare packages over the same folders; `extras/constants.py` gets stand-ins for the
    four weight-file names it imports from peft and transformers, only while it loads; and
    `extras/misc.py` (torch) gives way to the two hub switches the parser asks. Everything that
    reads our rows is LLaMA-Factory's code."""
    import importlib
    import importlib.util
    import types

    spec = importlib.util.find_spec("llamafactory")
    if spec is None or spec.origin is None:
        pytest.skip("llamafactory is not installed (bash scripts/dev.sh test installs it without its dependencies)")
    root = Path(spec.origin).parent
    before = set(sys.modules)

    def module(name: str, **attrs) -> types.ModuleType:
        made = types.ModuleType(name)
        made.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, made)
        return made

    for name, folder in (
        ("llamafactory", root),
        ("llamafactory.extras", root / "extras"),
        ("llamafactory.data", root / "data"),
    ):
        module(name, __path__=[str(folder)])
    weights = dict.fromkeys(["SAFE_WEIGHTS_INDEX_NAME", "SAFE_WEIGHTS_NAME", "WEIGHTS_INDEX_NAME", "WEIGHTS_NAME"], "-")
    stand_ins = {
        "peft": {},
        "peft.utils": {"SAFETENSORS_WEIGHTS_NAME": "-", "WEIGHTS_NAME": "-"},
        "transformers": {},
        "transformers.utils": weights,
    }
    saved = {name: sys.modules.get(name) for name in stand_ins}
    for name, attrs in stand_ins.items():
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__dict__.update(attrs)
    try:
        constants = importlib.import_module("llamafactory.extras.constants")
    finally:
        for name, old in saved.items():
            if old is None:
                del sys.modules[name]
            else:
                sys.modules[name] = old
    module("llamafactory.extras.misc", use_modelscope=lambda: False, use_openmind=lambda: False)
    yield (
        importlib.import_module("llamafactory.data.parser"),
        importlib.import_module("llamafactory.data.converter"),
        constants,
    )
    for name in set(sys.modules) - before:
        sys.modules.pop(name, None)


def test_llamafactory_loads_the_vision_rows_with_their_images(vision_build, llamafactory_data, tmp_path):
    """Its parser reads our dataset_info.json entry, its SharegptDatasetConverter (through
    align_dataset, as its loader calls it) turns each row into a prompt, a response and images
    resolved to files; and each row has as many <image> tokens as images (the rule its
    mm_plugin enforces before training)."""
    from datasets import load_dataset
    from PIL import Image

    parser, converter, constants = llamafactory_data
    output = vision_build["llamafactory_vision"]
    (attr,) = parser.get_dataset_list([output.stem], str(output.parent))
    assert (attr.load_from, attr.formatting, attr.images) == ("file", "sharegpt", "images")
    dataset = load_dataset(
        "json", data_files=[str(output.parent / attr.dataset_name)], split="train", cache_dir=str(tmp_path)
    )
    data_args = SimpleNamespace(
        media_dir=str(output.parent), streaming=False, preprocessing_num_workers=None, overwrite_cache=True
    )
    aligned = converter.align_dataset(dataset, attr, data_args, SimpleNamespace(local_process_index=0))
    assert len(aligned) == 5 and set(aligned.column_names) >= {"_prompt", "_response", "_system", "_images"}
    for example in aligned:
        assert [m["role"] for m in example["_prompt"] + example["_response"]] == ["user", "assistant"]
        tokens = sum(m["content"].count(constants.IMAGE_PLACEHOLDER) for m in example["_prompt"] + example["_response"])
        assert tokens == len(example["_images"]) >= 1
        for path in example["_images"]:
            assert Path(path).is_absolute() and Image.open(path).size == (1280, 720)
    assert '"action": "click", "coordinate": [0, 0]' in aligned[0]["_response"][0]["content"]
    assert aligned[0]["_system"].startswith("You operate a computer")


def test_exported_parquet_loads_with_the_screenshots_decoded(vision_build, tmp_path):

    from datasets import load_dataset

    root = Path(__file__).resolve().parent.parent
    for fmt in ("llamafactory_vision", "opencua"):
        target = tmp_path / f"{fmt}.parquet"
        result = subprocess.run(
            [
                sys.executable,
                str(root / "build_data.py"),
                "export",
                str(vision_build[fmt]),
                "--to",
                str(target),
                "--embed-images",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        moved = tmp_path / f"moved-{fmt}.parquet"  # the images travel inside the file
        target.rename(moved)
        data = load_dataset("parquet", data_files=str(moved), split="train", cache_dir=str(tmp_path / "cache"))
        images = (
            [img for row in data for img in row["images"]]
            if fmt == "llamafactory_vision"
            else [s["image"] for s in data[0]["traj"]]
        )
        assert images and all(img.size == (1280, 720) for img in images)
        assert all(type(img).__module__.startswith("PIL.") for img in images)


def test_openai_vision_rows_pass_the_validator_and_the_sdk_types(vision_build):
    from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
    from pydantic import TypeAdapter

    from toolbox.commands.validate import validate_file

    output = vision_build["openai_vision"]
    assert validate_file(output, "openai_vision") == (5, [])
    written = [json.loads(line) for line in output.read_text().splitlines()]
    messages = TypeAdapter(list[ChatCompletionMessageParam])
    tools = TypeAdapter(list[ChatCompletionToolParam])
    for row in written:
        assert messages.validate_python(row["messages"]) and tools.validate_python(row["tools"])
        parts = row["messages"][1]["content"]
        assert parts[0]["type"] == "text" and parts[-1]["image_url"]["url"].startswith("data:image/png;base64,")
    call = written[0]["messages"][-1]["tool_calls"][0]["function"]
    assert call["name"] == "computer_use" and json.loads(call["arguments"]) == {"action": "click", "coordinate": [0, 0]}
    assert written[-1]["messages"][-1]["role"] == "assistant" and "tool_calls" not in written[-1]["messages"][-1]


def test_openai_vision_validator_refuses_what_openai_refuses(vision_build):
    import base64
    import io

    from PIL import Image

    from toolbox.core import registry

    output = vision_build["openai_vision"]
    fmt = registry.get("formats", "openai_vision")()
    fmt.start(output)
    row = json.loads(output.read_text().splitlines()[0])
    assert fmt.validate(row) == []
    gray = io.BytesIO()
    Image.new("L", (1280, 720)).save(gray, format="PNG")
    row["messages"][1]["content"][-1]["image_url"]["url"] = (
        "data:image/png;base64," + base64.b64encode(gray.getvalue()).decode()
    )
    assert "a png L image; OpenAI takes png, jpeg or webp in RGB(A)" in fmt.validate(row)[0]
    row = json.loads(output.read_text().splitlines()[0])
    row["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{"action": "click", "coordinate": [40, 0]}'
    assert fmt.validate(row) == [f"no grounding for this row in {output}.grounding.jsonl"]
