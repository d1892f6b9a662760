"""Beside a build's output, what trainers need to load it as it is (when its format says how):

- `dataset_info.json` in the output's folder, with an entry named after the output file (kept
  beside the entries other builds put there): LLaMA-Factory's `dataset_dir` is that folder and
  `dataset:` the entry's name;
- `<output>.axolotl.yaml`: a `datasets:` list to paste into an axolotl config.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import yaml

from toolbox.core.format import Format
from toolbox.core.io import read_jsonl, write_atomic

log = logging.getLogger("datamakr")

DATASET_INFO = "dataset_info.json"


def dataset_name(output: Path) -> str:
    """The name of a build's entry in dataset_info.json: the output's file name without `.jsonl`."""
    return output.name.removesuffix(".jsonl")


def axolotl_path(output: Path) -> Path:
    return output.with_name(output.name + ".axolotl.yaml")


def write_trainer_files(fmt: Format, output: Path) -> list[Path]:
    """Write (or update) the trainer files for `output`; returns the files written."""
    written = []
    entry = fmt.llamafactory_dataset(output.name, _columns(output))
    if entry is not None:
        info_file = output.with_name(DATASET_INFO)
        info = _read_info(info_file)
        if info is not None:
            info[dataset_name(output)] = entry
            write_atomic(info_file, orjson.dumps(info, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
            written.append(info_file)
    dataset = fmt.axolotl_dataset(str(output))
    if dataset is not None:
        header = f"# axolotl: the `datasets:` of a training config for {output.name} ({fmt.plugin_name} layout)\n"
        body = yaml.safe_dump({"datasets": [dataset]}, sort_keys=False, allow_unicode=True)
        write_atomic(axolotl_path(output), (header + body).encode("utf-8"))
        written.append(axolotl_path(output))
    return written


def _columns(output: Path) -> set[str]:
    """Every top-level key of the output's rows."""
    keys: set[str] = set()
    for _, row in read_jsonl(output):
        if isinstance(row, dict):
            keys.update(row)
    return keys


def _read_info(path: Path) -> dict | None:
    """The entries already in dataset_info.json ({} if none); None if it cannot be kept (left alone)."""
    try:
        info = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        log.warning(f"{path}: not readable JSON ({exc}); left as it is, no LLaMA-Factory entry written")
        return None
    if not isinstance(info, dict):
        log.warning(f"{path}: not a JSON object; left as it is, no LLaMA-Factory entry written")
        return None
    return info
