"""The data loads the way trainers load it: HF `datasets` JSON loading, and LLaMA-Factory's and
axolotl's own dataset descriptions written beside each build."""

import importlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from episodes import sample_episode

from toolbox.core import registry
from toolbox.core.models import ToolCall, ToolSpec, Turn

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent


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


def datamakr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), *args], capture_output=True, text=True, timeout=300
    )


def test_export_writes_a_dataset_that_loads_back(tmp_path):
    from datasets import load_from_disk

    fmt = registry.get("formats", "sharegpt")()
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps(fmt.encode(e)) + "\n" for e in varied_episodes()))
    result = datamakr("export", str(src), "--to", str(tmp_path / "hf"))
    assert result.returncode == 0, result.stderr
    data = load_from_disk(str(tmp_path / "hf"))
    assert len(data) == 2 and data[0]["conversations"][0]["from"] == "human"
    card = (tmp_path / "hf/README.md").read_text()  # no build stats beside d.jsonl: the card says so
    assert "**sharegpt** layout" in card and "No build record was found" in card


def built_file(tmp_path: Path) -> Path:
    """A build of 12 distinct episodes, 2 duplicates (dropped) and 1 unreadable row (skipped)."""
    glaive = registry.get("formats", "glaive")()
    episodes = [sample_episode(i, f"request {i}: find run number {i} of the llama sweep") for i in range(12)]
    lines = [json.dumps(glaive.encode(e)) for e in episodes + episodes[:2]] + ["not json"]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "exp.yaml").write_text(
        "datasets: [{name: file, path: in.jsonl}]\nfilters: [exact_dedupe]\nformat: openai\noutput: out.jsonl\n"
    )
    result = datamakr("--config", str(tmp_path / "exp.yaml"), "-q")
    assert result.returncode == 0, result.stderr
    return tmp_path / "out.jsonl"


def test_export_card_tells_what_was_built_from_what_and_the_counts(tmp_path):
    from datasets import load_from_disk

    output = built_file(tmp_path)
    result = datamakr("export", str(output), "--to", str(tmp_path / "hf"), "--val-size", "0.25", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "12 rows (9 train, 3 validation)" in result.stdout
    data = load_from_disk(str(tmp_path / "hf"))
    train, validation = ([row["messages"][0]["content"] for row in data[s]] for s in ("train", "validation"))
    assert (len(train), len(validation)) == (9, 3) and not set(train) & set(validation)
    assert sorted(train + validation) == sorted(
        f"request {i}: find run number {i} of the llama sweep" for i in range(12)
    )
    card = (tmp_path / "hf/README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "unknown" and "`license: unknown` above is a placeholder" in card  # to fill in
    for line in (
        f"- config: `{tmp_path / 'exp.yaml'}` (seed 0)",
        "- datasets: `file`",
        "- filters, in order: `exact_dedupe`",
        "| read | file | 14 |",
        "| skipped | unreadable rows | 1 |",
        "| dropped | exact_dedupe: exact duplicate | 2 |",
        "| written | episodes | 12 |",
        "| train | 9 |",
        "| validation | 3 |",
    ):
        assert line in card, line
    again = datamakr("export", str(output), "--to", str(tmp_path / "hf2"), "--val-size", "3", "--seed", "3")
    assert again.returncode == 0
    assert load_from_disk(str(tmp_path / "hf2"))["validation"]["messages"] == data["validation"]["messages"]


def test_export_to_parquet_with_splits(tmp_path):
    from datasets import load_dataset

    output = built_file(tmp_path)
    result = datamakr("export", str(output), "--to", str(tmp_path / "p/data.parquet"), "--val-size", "0.5")
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert files == ["data.README.md", "data.train.parquet", "data.validation.parquet"]
    data = load_dataset("parquet", data_dir=str(tmp_path / "p"), cache_dir=str(tmp_path / "c"))
    assert {name: len(part) for name, part in data.items()} == {"train": 6, "validation": 6}
    single = datamakr("export", str(output), "--to", str(tmp_path / "one.parquet"))
    assert single.returncode == 0 and (tmp_path / "one.parquet").is_file() and (tmp_path / "one.README.md").is_file()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--to", "x.csv"], "--to x.csv: '.csv' is not a kind export writes"),
        ([], "say where to"),
        (["--to", "hf", "--val-size", "0"], "--val-size 0.0:"),
        (["--to", "hf", "--val-size", "12"], "cannot fill both"),
        (["--push-to-hub", "no-owner"], "a Hub repo id is OWNER/NAME"),
    ],
)
def test_export_refuses_what_it_cannot_do_in_one_line(tmp_path, args, message):
    output = built_file(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), "export", str(output), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "hf").exists()


# -- the hand-off files a build writes, read by the trainers' own loading code ---------------------


def build_for_trainers(tmp_path: Path, fmt: str) -> Path:
    """The sample session and the varied episodes (parallel calls, nested arguments), built in `fmt`."""
    openai = registry.get("formats", "openai")()
    (tmp_path / "varied.jsonl").write_text("".join(json.dumps(openai.encode(e)) + "\n" for e in varied_episodes()))
    (tmp_path / "exp.yaml").write_text(
        f"datasets:\n  - {{name: sessions, path: {ROOT / 'examples/sessions'}}}\n"
        "  - {name: file, path: varied.jsonl}\n"
        "tasks: [{name: interval_episodes, transcriber: heuristic, ocr: tesseract}]\n"
        f"format: {fmt}\noutput: out/train.jsonl\ncache_dir: {ROOT / '.cache/datamakr'}\n"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), "--config", str(tmp_path / "exp.yaml"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    output = tmp_path / "out/train.jsonl"
    assert len(output.read_text().splitlines()) == 3
    return output


def module(name: str, **attributes: object) -> types.ModuleType:
    made = types.ModuleType(name)
    made.__dict__.update(attributes)
    return made


@pytest.fixture(scope="module")
def llamafactory() -> Iterator[SimpleNamespace]:
    """LLaMA-Factory's own dataset_info parser, format converters and constants, from its
    installed package (requirements-trainers.txt, `pip install --no-deps`). Its package __init__
    files pull in the trainer stack (torch, torchaudio, peft, transformers), so its packages are
    entered as bare packages over the same folders; `extras/constants.py` gets stand-ins for the
    four weight-file names it imports from peft and transformers, only while it loads; its logger
    is one that keeps the warnings, and `extras/misc.py` (torch) gives way to the two hub switches
    the parser asks. Everything that reads our rows is LLaMA-Factory's code."""
    spec = importlib.util.find_spec("llamafactory")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llamafactory is not installed: pip install --no-deps -r requirements-trainers.txt")
    root = Path(spec.submodule_search_locations[0])
    warnings: list[str] = []

    class Logger(logging.LoggerAdapter):
        def warning_rank0(self, msg: str, *args: object, **kwargs: object) -> None:
            warnings.append(msg)

        warning_rank0_once = warning_rank0

        def info_rank0(self, msg: str, *args: object, **kwargs: object) -> None:
            pass

    saved = {name: mod for name, mod in sys.modules.items() if name.startswith("llamafactory")}
    for name in saved:
        del sys.modules[name]
    stubs = [
        module("llamafactory", __path__=[str(root)]),
        module("llamafactory.extras", __path__=[str(root / "extras")]),
        module("llamafactory.data", __path__=[str(root / "data")]),
        module("llamafactory.extras.logging", get_logger=lambda name: Logger(logging.getLogger(name), {})),
        module("llamafactory.extras.misc", use_modelscope=lambda: False, use_openmind=lambda: False),
    ]
    sys.modules.update({stub.__name__: stub for stub in stubs})
    weights = dict.fromkeys(["SAFE_WEIGHTS_INDEX_NAME", "SAFE_WEIGHTS_NAME", "WEIGHTS_INDEX_NAME", "WEIGHTS_NAME"], "-")
    stand_ins = {
        "peft": {},
        "peft.utils": {"SAFETENSORS_WEIGHTS_NAME": "-", "WEIGHTS_NAME": "-"},
        "transformers": {},
        "transformers.utils": weights,
    }
    outside = {name: sys.modules.get(name) for name in stand_ins}
    try:
        sys.modules.update({name: module(name, **attrs) for name, attrs in stand_ins.items()})
        try:
            constants = importlib.import_module("llamafactory.extras.constants")
        finally:
            for name, old in outside.items():
                if old is None:
                    del sys.modules[name]
                else:
                    sys.modules[name] = old
        parser = importlib.import_module("llamafactory.data.parser")
        converter = importlib.import_module("llamafactory.data.converter")
        yield SimpleNamespace(parser=parser, converter=converter, constants=constants, warnings=warnings)
    finally:
        for name in [n for n in sys.modules if n.startswith("llamafactory")]:
            del sys.modules[name]
        sys.modules.update(saved)


def load_like_llamafactory(lf: SimpleNamespace, dataset_dir: Path, name: str, cache: Path) -> list[dict]:
    """What LLaMA-Factory does for `dataset: NAME` with `dataset_dir: DIR` and a local file: the
    entry from DIR/dataset_info.json, `load_dataset` on its file, then its converter for the
    entry's `formatting`."""
    from datasets import load_dataset

    (attr,) = lf.parser.get_dataset_list([name], str(dataset_dir))
    assert attr.load_from == "file"
    data = load_dataset(
        "json", data_files=[str(dataset_dir / attr.dataset_name)], split=attr.split, cache_dir=str(cache)
    )
    data_args = SimpleNamespace(streaming=False, preprocessing_num_workers=None, overwrite_cache=True, media_dir=".")
    aligned = lf.converter.align_dataset(data, attr, data_args, SimpleNamespace(local_process_index=0))
    return list(aligned)


@pytest.mark.parametrize("fmt", ["openai", "sharegpt"])
def test_llamafactory_loads_the_build_through_its_dataset_info(tmp_path, llamafactory, fmt):
    output = build_for_trainers(tmp_path, fmt)
    info = json.loads((output.parent / "dataset_info.json").read_text())
    assert info["train"]["formatting"] == fmt and info["train"]["file_name"] == "train.jsonl"
    llamafactory.warnings.clear()
    examples = load_like_llamafactory(llamafactory, output.parent, "train", tmp_path / "cache")
    assert llamafactory.warnings == []  # no "Skipping this abnormal example"
    assert len(examples) == 3
    calls = []
    for example in examples:
        turns = example["_prompt"] + example["_response"]
        assert turns and len(example["_response"]) == 1
        for i, turn in enumerate(turns):
            assert turn["role"] in (("user", "observation") if i % 2 == 0 else ("assistant", "function")), turns
            assert isinstance(turn["content"], str) and turn["content"]
        calls += [json.loads(t["content"]) for t in turns if t["role"] == "function"]
        assert example["_system"].startswith("You operate a computer.") or "computer" in example["_system"]
    names = {c["name"] for group in calls for c in (group if isinstance(group, list) else [group])}
    assert {"search_runs", "click", "set_volume"} <= names
    tools = [t["name"] if "name" in t else t["function"]["name"] for t in json.loads(examples[2]["_tools"])]
    assert tools == ["set_volume"]


def test_openai_rows_carry_null_content_where_a_message_only_calls_tools(tmp_path):
    output = build_for_trainers(tmp_path, "openai")
    messages = [m for line in output.read_text().splitlines() for m in json.loads(line)["messages"]]
    only_calls = [m for m in messages if m["role"] == "assistant" and m.get("tool_calls") and not m["content"]]
    assert only_calls and all("content" in m and m["content"] is None for m in only_calls)


def test_axolotl_snippet_names_the_columns_of_the_output(tmp_path):
    from datasets import load_dataset

    output = build_for_trainers(tmp_path, "openai")
    snippet = yaml.safe_load((output.parent / "train.jsonl.axolotl.yaml").read_text())
    (dataset,) = snippet["datasets"]
    assert dataset["type"] == "chat_template" and dataset["path"] == str(output)
    data = load_dataset(dataset["ds_type"], data_files=dataset["path"], split="train", cache_dir=str(tmp_path / "c"))
    assert len(data) == 3
    mapping = dataset["message_property_mappings"]
    for row in data:
        tools = row[dataset["field_tools"]]
        assert isinstance(tools, list) and all(isinstance(t["function"]["parameters"], dict) for t in tools)
        for message in row[dataset["field_messages"]]:
            assert set(mapping.values()) <= set(message)  # every property the snippet maps is there
            assert message[mapping["role"]] in ("system", "user", "assistant", "tool")  # axolotl's role names
            for call in message.get("tool_calls") or []:
                assert isinstance(json.loads(call["function"]["arguments"]), dict)  # axolotl parses them


def test_glaive_gets_no_trainer_files(tmp_path):
    output = build_for_trainers(tmp_path, "glaive")
    assert sorted(p.name for p in output.parent.iterdir()) == ["train.jsonl", "train.jsonl.stats.json"]


def test_a_second_build_in_the_folder_adds_its_entry_to_dataset_info(tmp_path):
    first = build_for_trainers(tmp_path, "openai")
    second = first.with_name("train2.jsonl")
    result = subprocess.run(
        [sys.executable, str(ROOT / "build_data.py"), "--config", str(tmp_path / "exp.yaml"), "-q"]
        + ["--format", "sharegpt", "--output-file", str(second)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads((first.parent / "dataset_info.json").read_text())
    assert {name: entry["formatting"] for name, entry in info.items()} == {"train": "openai", "train2": "sharegpt"}


# -- tokenizer: token figures and max_length count what the trainer's tokenizer counts ------------

CHAT_TEMPLATE = (
    "{% if tools %}<|im_start|>tools\n{{ tools | tojson }}<|im_end|>\n{% endif %}"
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] %}{{ message['content'] }}{% endif %}"
    "{% for call in message['tool_calls'] or [] %}<tool_call>{{ call['function'] | tojson }}</tool_call>{% endfor %}"
    "<|im_end|>\n{% endfor %}"
)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer trained here on a little text, saved as tokenizer.json, and a
    tokenizer_config.json with a chat template and its special tokens: a transformers-free folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("tokenizer")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [e.model_dump_json() for e in varied_episodes()] * 20
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|im_start|>", "<|im_end|>"])
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    settings = {"chat_template": CHAT_TEMPLATE, "eos_token": {"content": "<|im_end|>"}, "bos_token": None}
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    return folder


def trainer_tokens(folder: Path, messages: list[dict], tools: list[dict] | None) -> int:
    """What a trainer counts for one row: the chat template rendered as transformers renders it,
    tokenized without adding special tokens again."""
    from jinja2 import Environment
    from tokenizers import Tokenizer

    env = Environment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda value: json.dumps(value, ensure_ascii=False)
    text = env.from_string(CHAT_TEMPLATE).render(messages=messages, tools=tools, add_generation_prompt=False)
    return len(Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text, add_special_tokens=False).ids)


def tokenizer_build(tmp_path: Path, tokenizer: Path | None, fmt: str = "openai", extra: str = "") -> dict:
    """Six episodes of growing length, each with an early final answer (a place to trim), built."""
    openai = registry.get("formats", "openai")()
    episodes = [sample_episode(i, f"request {i}: " + "find the llama run " * (1 + 3 * i)) for i in range(6)]
    for episode in episodes:
        episode.turns.insert(3, Turn(role="assistant", content="Found it: llama-7b-0512."))
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(openai.encode(e)) + "\n" for e in episodes))
    (tmp_path / "exp.yaml").write_text(
        f"datasets: [{{name: file, path: in.jsonl}}]\nformat: {fmt}\noutput: out.jsonl\n{extra}"
        + (f"tokenizer: {os.path.relpath(tokenizer, tmp_path)}\n" if tokenizer else "")
    )
    result = datamakr("--config", str(tmp_path / "exp.yaml"))
    assert result.returncode == 0, result.stderr
    return json.loads((tmp_path / "out.jsonl.stats.json").read_text())


def rows(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def test_token_figures_count_each_row_with_the_tokenizer_and_its_chat_template(tmp_path, tokenizer_dir):
    stats = tokenizer_build(tmp_path, tokenizer_dir)
    per_row = [trainer_tokens(tokenizer_dir, row["messages"], row.get("tools")) for row in rows(tmp_path)]
    assert stats["tokens"] == sum(per_row) and stats["tokenizer"] == tokenizer_dir.name
    default = tokenizer_build(tmp_path / "cl100k", None)
    assert default["tokens"] != stats["tokens"] and "tokenizer" not in default  # cl100k stays the default
    # per format row: sharegpt has no slot for a thought before a call, so its rows are shorter
    assert tokenizer_build(tmp_path, tokenizer_dir, "sharegpt")["tokens"] < stats["tokens"]


def test_max_length_counts_with_the_tokenizer(tmp_path, tokenizer_dir):
    tokenizer_build(tmp_path, tokenizer_dir)
    counts = {
        row["messages"][1]["content"]: trainer_tokens(tokenizer_dir, row["messages"], row.get("tools"))
        for row in rows(tmp_path)
    }
    limit = sorted(counts.values())[2]  # three rows fit, three do not
    stats = tokenizer_build(
        tmp_path, tokenizer_dir, extra=f"max_length: {limit}\nfilters: [{{name: max_length, mode: drop}}]\n"
    )
    kept = {row["messages"][1]["content"] for row in rows(tmp_path)}
    assert kept == {request for request, n in counts.items() if n <= limit} and stats["written"] == 3
    stats = tokenizer_build(tmp_path, tokenizer_dir, extra=f"max_length: {limit}\n")  # trim after the early answer
    trimmed = rows(tmp_path)
    assert len(trimmed) > 3 and stats["tokens"] == sum(
        trainer_tokens(tokenizer_dir, r["messages"], r.get("tools")) for r in trimmed
    )
    assert all(trainer_tokens(tokenizer_dir, r["messages"], r.get("tools")) <= limit for r in trimmed)
    assert any(r["messages"][-1]["content"] == "Found it: llama-7b-0512." for r in trimmed)


# -- vision formats ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vision_build(tmp_path_factory):
    """A drawn session with clicks, built once in each vision format."""
    from vision_sessions import build, click_session, corners

    root = tmp_path_factory.mktemp("vision")
    sessions = click_session(root / "sessions", (1920, 1080), corners((1920, 1080))[:4]).parent
    return {fmt: build(root, sessions, fmt, name=fmt) for fmt in ("llamafactory_vision", "openai_vision", "opencua")}


def test_llamafactory_loads_the_vision_rows_with_their_images(vision_build, llamafactory, tmp_path):
    """Its parser reads our dataset_info.json entry, its SharegptDatasetConverter (through
    align_dataset, as its loader calls it) turns each row into a prompt, a response and images
    resolved to files; and each row has as many <image> tokens as images (the rule its
    mm_plugin enforces before training)."""
    from datasets import load_dataset
    from PIL import Image

    parser, converter, constants = llamafactory.parser, llamafactory.converter, llamafactory.constants
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
