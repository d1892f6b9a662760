from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import field_validator

from toolbox.core import registry
from toolbox.core.config import ConfigError
from toolbox.core.dataset import Dataset
from toolbox.core.format import FormatError
from toolbox.core.io import BadLine, LinePart, line_parts, read_jsonl
from toolbox.core.models import Episode, Source, stable_id
from toolbox.core.plugin import Options
from toolbox.core.registry import register_dataset

SHARD_BYTES = 16 << 20  # a bigger JSONL file is done in parts of about this size: a part's episodes
# come back from its worker as one message, so the part bounds what a build holds at once
_PART = re.compile(r"(.+)#(\d+)-(\d+)@(\d+)")  # a shard that is a part of a file: path#start-end@first line


def _is_list(file: Path) -> bool:
    """Whether the file is a JSON list (read whole) rather than JSONL (streamed)."""
    with file.open("rb") as handle:
        return handle.read(4096).lstrip()[:1] == b"["


def detect_format(row: Any) -> str | None:
    if isinstance(row, dict):
        if "chat" in row:
            return "glaive"
        if "conversations" in row:
            return "sharegpt"
        if "messages" in row:
            return "openai"
    return None


@register_dataset("file")
class EpisodeFile(Dataset):
    """Existing glaive / sharegpt / openai data (JSONL or a JSON list); yields Episodes."""

    class Options(Options):
        path: str
        format: str = "auto"  # auto: told per row from its keys; or any registered format

        @field_validator("format")
        @classmethod
        def _registered(cls, value: str) -> str:
            if value != "auto" and value not in registry.names("formats"):
                try:
                    registry.get("formats", value)
                except registry.PluginError as exc:  # its message names the close ones
                    raise ValueError(str(exc).removeprefix("formats: ")) from None
            return value

    def records(self) -> Iterator[Episode]:
        for shard in self.shards():
            yield from self.shard_records(shard)

    def shards(self) -> list[str]:
        """One per file the path (or glob) names, a JSONL file over SHARD_BYTES cut into parts of
        whole lines (no digest: reading a file again is cheap)."""
        pattern = self.options.path
        files = (
            sorted(self.ctx.base_dir.glob(pattern)) if any(c in pattern for c in "*?[") else [self.ctx.path(pattern)]
        )
        missing = next((f for f in files if not f.is_file()), None) if files else self.ctx.path(pattern)
        if missing is not None:
            raise ConfigError(f"datasets ({self.plugin_name}).path: no such file: {missing}")
        shards = []
        for file in files:
            if file.stat().st_size <= SHARD_BYTES or _is_list(file):
                shards.append(str(file))
            else:  # a big JSONL file: parts of whole lines, each done (and sent back) on its own
                shards.extend(f"{file}#{start}-{end}@{first}" for start, end, first in line_parts(file, SHARD_BYTES))
        return shards

    def shard_records(self, shard: str) -> Iterator[Episode]:
        part = _PART.fullmatch(shard)
        if part is not None and Path(part[1]).is_file():
            return self._read(Path(part[1]), (int(part[2]), int(part[3]), int(part[4])))
        return self._read(Path(shard))

    def _read(self, file: Path, part: LinePart | None = None) -> Iterator[Episode]:
        stats = self.ctx.stats
        formats: dict[str, Any] = {}
        rows: Iterable[tuple[int, Any]]
        try:
            if part is None and _is_list(file):  # a JSON list is read whole; JSONL is streamed
                rows = list(enumerate(orjson.loads(file.read_bytes()), start=1))
            else:
                rows = self._lines(file, part)
        except OSError as exc:
            stats.problem("files", f"{file}: cannot read ({exc.strerror or exc})")
            return
        except orjson.JSONDecodeError as exc:
            stats.problem("files", f"{file}: not valid JSON ({exc})")
            return
        for number, row in rows:
            name = self.options.format if self.options.format != "auto" else detect_format(row)
            if name is None:
                stats.problem("rows", f"{file}:{number}: cannot tell the format of this row; skipped")
                continue
            fmt = formats.get(name) or formats.setdefault(name, registry.get("formats", name)(None, self.ctx))
            source = Source(dataset=self.plugin_name, path=str(file), line=number)
            try:
                yield fmt.decode(row, stable_id(file.name, number), source)
            except (FormatError, ValueError, KeyError, TypeError) as exc:
                stats.problem(
                    "rows", f"{file}:{number}: {name} row not parsed ({str(exc).splitlines()[0][:160]}); skipped"
                )

    def _lines(self, file: Path, part: LinePart | None) -> Iterator[tuple[int, Any]]:
        for number, row in read_jsonl(file, part=part):
            if isinstance(row, BadLine):
                what = "truncated last line" if row.truncated else "line is not JSON"
                self.ctx.stats.problem("rows", f"{file}:{number}: {what}; skipped")
            else:
                yield number, row
