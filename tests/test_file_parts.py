"""A big JSONL data file is read in parts of whole lines (each a shard a worker does and sends
back on its own), and the parts together are the file: the same rows, the same line numbers in
every message, a truncated last line still called truncated."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from episodes import sample_episode

import toolbox.datasets.file as file_dataset
from toolbox.core.io import BadLine, line_parts, read_jsonl
from toolbox.core.plugin import BuildContext
from toolbox.datasets.file import EpisodeFile
from toolbox.formats.glaive import GlaiveFormat


@pytest.mark.parametrize("seed", range(40))
def test_the_parts_of_a_file_read_as_the_whole_file(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for i in range(rng.randint(0, 120)):
        roll = rng.random()
        lines.append(
            "" if roll < 0.05 else "{not json" if roll < 0.1 else json.dumps({"n": i, "pad": "x" * rng.randint(0, 90)})
        )
    path = tmp_path / "rows.jsonl"
    path.write_text(
        "\n".join(lines) + ("\n" if rng.random() < 0.5 else "") + ("{truncat" if rng.random() < 0.3 else "")
    )
    size = path.stat().st_size
    parts = line_parts(path, rng.randint(1, 600))
    assert [p[0] for p in parts[:1]] == ([0] if size else [])
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:])) and (not parts or parts[-1][1] == size)

    def rows(items: list) -> list:
        return [(n, v.truncated if isinstance(v, BadLine) else v) for n, v in items]

    assert rows([row for part in parts for row in read_jsonl(path, part=part)]) == rows(list(read_jsonl(path)))


def test_a_big_file_is_done_in_parts_with_the_rows_and_line_numbers_of_the_whole(tmp_path: Path, monkeypatch) -> None:
    rows = [json.dumps(GlaiveFormat().encode(sample_episode(i, f"request {i}"))) for i in range(30)]
    rows[17] = "{broken"
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(rows) + "\n")
    ctx = BuildContext(base_dir=tmp_path)
    whole = EpisodeFile(EpisodeFile.Options(path=str(path)), ctx)
    expected = [(e.id, e.source.line) for e in whole.records()]
    monkeypatch.setattr(file_dataset, "SHARD_BYTES", path.stat().st_size // 7)
    parted = EpisodeFile(EpisodeFile.Options(path=str(path)), BuildContext(base_dir=tmp_path))
    shards = parted.shards()
    assert len(shards) >= 6 and all(s.startswith(f"{path}#") for s in shards)
    assert [(e.id, e.source.line) for s in shards for e in parted.shard_records(s)] == expected
    assert len(expected) == 29
    problems = parted.ctx.stats.problems
    assert any(f"{path}:18: line is not JSON" in line for line in problems), problems
