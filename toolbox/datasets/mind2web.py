"""Mind2Web (osunlp/Mind2Web): tasks read from its released JSON (or parquet) files, each action
joined with the page it was taken on (`<action_uid>_before.mhtml` under `mhtml_dir`), rendered,
tagged and OCR'd, its target found among the page's tags: one `Mind2WebStep` per action.

An action whose page or target cannot be found is not yielded; it is counted as dropped with
the reason (no snapshot, no target candidate, target not found: why).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from toolbox.core.config import ConfigError
from toolbox.core.dataset import Dataset
from toolbox.core.io import BadLine, read_jsonl
from toolbox.core.registry import register_dataset
from toolbox.datasets.mhtml import input_files
from toolbox.web.models import Mind2WebStep, WebTarget
from toolbox.web.pages import PageReader, PageRequest, WebPageOptions

OPS = ("CLICK", "TYPE", "SELECT")
FILES = (".json", ".jsonl", ".parquet")


def _json_text(value: Any) -> Any:
    """Mind2Web's parquet exports keep nested objects as JSON text."""
    return orjson.loads(value) if isinstance(value, str) else value


class Operation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    op: str
    value: str = ""

    @field_validator("op", "value", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class Candidate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tag: str = ""
    backend_node_id: str | None = None
    is_original_target: bool | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes_text(cls, value: Any) -> Any:
        return _json_text(value) or {}

    def target(self) -> WebTarget:
        attrs = self.attributes
        box = None
        try:
            x, y, w, h = (float(v) for v in str(attrs.get("bounding_box_rect", "")).split(","))
            box = (x, y, w, h)
        except ValueError:
            pass
        return WebTarget(
            node=str(self.backend_node_id or attrs.get("backend_node_id") or "") or None,
            id=attrs.get("id") or None,
            cls=attrs.get("class") or None,
            tag=self.tag.lower() or None,
            box=box,
        )


class Action(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action_uid: str
    operation: Operation
    pos_candidates: list[Candidate] = Field(default_factory=list)

    @field_validator("operation", mode="before")
    @classmethod
    def _operation_text(cls, value: Any) -> Any:
        return _json_text(value)

    @field_validator("pos_candidates", mode="before")
    @classmethod
    def _candidates_text(cls, value: Any) -> Any:
        return [_json_text(c) for c in value or []]

    def candidate(self) -> Candidate | None:
        """The element acted on: the original target when marked, else the first positive."""
        marked = [c for c in self.pos_candidates if c.is_original_target]
        return (marked or self.pos_candidates or [None])[0]


class Task(BaseModel):
    """A task as released: its actions in order, `action_reprs` the same actions as text."""

    model_config = ConfigDict(extra="ignore")
    annotation_id: str
    website: str = ""
    confirmed_task: str
    action_reprs: list[str] = Field(default_factory=list)
    actions: list[Action]


def task_actions(row: dict[str, Any]) -> list[tuple[Task, Action, int]]:
    """A row's actions, each with its task and its index in the task: every action of a task
    row, or the one action of a row per action (Multimodal-Mind2Web's layout: the action's
    fields beside the task's, and `target_action_index`)."""
    if "actions" in row:
        task = Task.model_validate(row)
        return [(task, action, i) for i, action in enumerate(task.actions)]
    task = Task.model_validate({**row, "actions": []})
    return [(task, Action.model_validate(row), int(row["target_action_index"]))]


@register_dataset("mind2web")
class Mind2Web(Dataset):
    """Mind2Web tasks joined with their <action_uid>_before.mhtml pages: one step per action, target tagged."""

    class Options(WebPageOptions):
        path: str  # a file, a folder of them, or a glob
        mhtml_dir: str  # where <action_uid>_before.mhtml files are (searched recursively)
        max_distance: float = Field(default=50.0, gt=0)  # pixels between a class/id match and the target's box

    options: Options

    def records(self) -> Iterator[Mind2WebStep]:
        where = f"datasets ({self.plugin_name})"
        snapshots = self._snapshots(where)
        reader = PageReader(self.options, self.ctx, self.options.max_distance)
        try:
            for fields, page in reader.pages(
                self._requests(input_files(self.ctx, self.options.path, FILES, where), snapshots)
            ):
                match = page.target
                if match is None or match.tag is None:
                    reason = match.reason if match is not None and match.reason else "no tag"
                    self.ctx.stats.drop(
                        self.plugin_name, f"target not found: {reason}", fields["action_uid"], page.path
                    )
                    continue
                yield Mind2WebStep(page=page, target_tag=match.tag, **fields)
        finally:
            reader.close()

    def _snapshots(self, where: str) -> dict[str, Path]:
        folder = self.ctx.path(self.options.mhtml_dir)
        if not folder.is_dir():
            raise ConfigError(f"{where}.mhtml_dir: no such folder: {folder}")
        return {p.name.removesuffix("_before.mhtml"): p for p in sorted(folder.rglob("*_before.mhtml"))}

    def _requests(self, files: list[Path], snapshots: dict[str, Path]) -> Iterator[PageRequest[dict[str, Any]]]:
        """Each action's page to render (with its target), and the step's other fields."""
        for task, action, index in self._actions(files):
            uid = action.action_uid
            candidate = action.candidate()
            op = action.operation.op.upper()
            if op not in OPS:
                self.ctx.stats.drop(self.plugin_name, "unknown operation", uid, op)
            elif uid not in snapshots:
                self.ctx.stats.drop(self.plugin_name, "no snapshot", uid, f"{uid}_before.mhtml")
            elif candidate is None:
                self.ctx.stats.drop(self.plugin_name, "no target candidate", uid)
            else:
                fields = {
                    "annotation_id": task.annotation_id,
                    "action_uid": uid,
                    "index": index,
                    "website": task.website,
                    "task": task.confirmed_task,
                    "previous": task.action_reprs[:index],
                    "op": op,
                    "value": action.operation.value,
                }
                yield PageRequest[dict[str, Any]](path=snapshots[uid], target=candidate.target(), item=fields)

    def _actions(self, files: list[Path]) -> Iterator[tuple[Task, Action, int]]:
        for file in files:
            for number, row in self._rows(file):
                try:
                    yield from task_actions(row)
                except (ValidationError, KeyError, TypeError, ValueError) as exc:
                    message = str(exc).splitlines()[0][:160]
                    self.ctx.stats.problem("rows", f"{file}:{number}: not a Mind2Web task ({message}); skipped")

    def _rows(self, file: Path) -> Iterator[tuple[int, Any]]:
        try:
            if file.suffix == ".parquet":
                import pyarrow.parquet as pq

                number = 0
                for batch in pq.ParquetFile(file).iter_batches(batch_size=16):
                    for row in batch.to_pylist():
                        number += 1
                        yield number, row
            elif file.suffix == ".jsonl":
                for number, row in read_jsonl(file):
                    if isinstance(row, BadLine):
                        self.ctx.stats.problem("rows", f"{file}:{number}: not JSON ({row.reason}); skipped")
                    else:
                        yield number, row
            else:
                data = orjson.loads(file.read_bytes())
                yield from enumerate(data if isinstance(data, list) else [data], start=1)
        except (OSError, orjson.JSONDecodeError) as exc:
            self.ctx.stats.problem("files", f"{file}: cannot read ({getattr(exc, 'strerror', None) or exc}); skipped")
