"""OpenAI chat fine-tuning rows with screenshots, one per step of a recorded episode: the user
message holds the task, what was done so far and the screenshots as `image_url` parts (data
URLs); the assistant calls the `computer_use` function (the closing row answers in text).

OpenAI's format has no place for the grounding `validate` needs, so it goes to a sidecar,
`<output>.grounding.jsonl`: one line per row, keyed by the SHA-256 of the row's JSON (keys
sorted)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field

from toolbox.core.format import Format
from toolbox.core.io import read_jsonl, write_atomic
from toolbox.core.models import Episode
from toolbox.core.registry import register_format
from toolbox.formats.openai import OpenAIFormat
from toolbox.vision.actions import TOOL_NAME, arguments, points_in_arguments
from toolbox.vision.images import data_url_image
from toolbox.vision.resize import VisionError
from toolbox.vision.trajectory import (
    ExportedStep,
    Exporter,
    HistoryOptions,
    VisionOptions,
    check_grounding,
    history_window,
    step_prompt,
)

MAX_IMAGES = 64  # per example (OpenAI vision fine-tuning)
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_FORMATS = ("png", "jpeg", "webp")
IMAGE_MODES = ("RGB", "RGBA")
SYSTEM = (
    "You operate a computer for the user with the computer_use function. Each turn shows the task, the "
    "actions taken so far and screenshots, the last one the current screen. Call the function with the next "
    "action; when the task is done, reply with the answer."
)


def grounding_path(output: Path) -> Path:
    return output.with_name(output.name + ".grounding.jsonl")


def row_key(row: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)).hexdigest()


@register_format("openai_vision")
class OpenAIVisionFormat(Format):
    """OpenAI fine-tuning with screenshots (data URLs), a row per step; actions as computer_use calls in pixels."""

    class Options(VisionOptions, HistoryOptions):
        image_max_side: int = Field(1024, gt=0)
        image_detail: Literal["auto", "low", "high"] = "high"

    options: Options

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exporter = Exporter(self.options, self.ctx, default_coordinates="pixels")
        names = self.exporter.names
        self.tool = {"type": "function", "function": computer_tool(names)}
        self.plain = OpenAIFormat()
        self.groundings: dict[str, Any] = {}  # row key -> grounding, this build's
        self.sidecar: Path | None = None
        self._sidecar_read = False

    def start(self, output: Path) -> None:
        self.sidecar = grounding_path(output)
        self.ctx.on_finish(self.write_sidecar)

    def encode_rows(self, episode: Episode) -> list[dict[str, Any]]:
        trajectory = self.exporter.trajectory(episode)
        self.exporter.prepare_images(trajectory, images_dir=None)
        steps = trajectory.steps
        rows = []
        for index, current in enumerate([*steps, trajectory.final]):
            shown = [*history_window(steps, index, self.options.history_images), current]
            text = step_prompt(trajectory, index, self.options.history_images, self.exporter.convention)
            content: list[dict[str, Any]] = [{"type": "text", "text": text}]
            for item in shown:
                url = self.exporter.image(item.shot)
                content.append({"type": "image_url", "image_url": {"url": url, "detail": self.options.image_detail}})
            row = {
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": content},
                    self.reply(current),
                ],
                "tools": [self.tool],
            }
            located = [(len(shown) - 1, point, current.shot) for point in current.points]
            self.groundings[row_key(row)] = self.exporter.grounding(located)
            rows.append(row)
        self.exporter.count("rows", len(rows))
        return rows

    def reply(self, current: ExportedStep) -> dict[str, Any]:
        step = current.step
        if step.action == "terminate":
            return {"role": "assistant", "content": step.text or "The task is done."}
        args = arguments(step, self.exporter.names, [p.exported for p in current.points])
        call = {
            "id": "call_0",
            "type": "function",
            "function": {"name": TOOL_NAME, "arguments": orjson.dumps(args).decode()},
        }
        return {"role": "assistant", **({"content": step.thought} if step.thought else {}), "tool_calls": [call]}

    def write_sidecar(self, output: Path) -> None:
        lines = b"".join(orjson.dumps({"row": key, "grounding": g}) + b"\n" for key, g in self.groundings.items())
        write_atomic(grounding_path(output), lines)

    def grounding_of(self, row: dict[str, Any]) -> Any:
        key = row_key(row)
        if key not in self.groundings and not self._sidecar_read and self.sidecar is not None:
            self._sidecar_read = True
            if self.sidecar.is_file():
                for _, line in read_jsonl(self.sidecar):
                    if isinstance(line, dict) and isinstance(line.get("row"), str):
                        self.groundings.setdefault(line["row"], line.get("grounding"))
        return self.groundings.get(key)

    def validate(self, row: Any) -> list[str]:
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
            return ["row is not a JSON object with 'messages'"]
        errors: list[str] = []
        sizes: list[tuple[int, int]] = []
        text_only = []
        for i, message in enumerate(row["messages"]):
            if isinstance(message, dict) and isinstance(message.get("content"), list):
                if message.get("role") != "user":
                    errors.append(f"messages[{i}]: only user messages may hold content parts (images)")
                texts, found = _parts(message["content"], f"messages[{i}]", errors)
                sizes += found
                message = {**message, "content": texts}
            text_only.append(message)
        errors += self.plain.validate({**row, "messages": text_only})
        if len(sizes) > MAX_IMAGES:
            errors.append(f"{len(sizes)} images; OpenAI takes at most {MAX_IMAGES} per example")
        if errors:
            return errors
        points = []
        for message in row["messages"]:
            for call in message.get("tool_calls") or []:
                try:
                    points += points_in_arguments(orjson.loads(call["function"]["arguments"]))
                except ValueError as exc:
                    return [f"a tool call's arguments cannot be read ({exc})"]
        grounding = self.grounding_of(row)
        if grounding is None:
            return [f"no grounding for this row in {self.sidecar or '<output>.grounding.jsonl'}"]
        current = len(sizes) - 1  # the row's points are on its last image, the current screen
        return check_grounding(grounding, [(p, current) for p in points], lambda i: sizes[i])


def _parts(parts: list[Any], where: str, errors: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The text of a message's content parts, and the size of each image, in order."""
    texts, sizes = [], []
    for j, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            url = part["image_url"].get("url")
            try:
                fmt, size, mode = data_url_image(url if isinstance(url, str) else "")
            except VisionError as exc:
                errors.append(f"{where}.content[{j}]: {exc}")
                continue
            if fmt not in IMAGE_FORMATS or mode not in IMAGE_MODES:
                errors.append(f"{where}.content[{j}]: a {fmt} {mode} image; OpenAI takes png, jpeg or webp in RGB(A)")
            if len(url) * 3 // 4 > MAX_IMAGE_BYTES:
                errors.append(f"{where}.content[{j}]: image over {MAX_IMAGE_BYTES // 2**20} MB")
            sizes.append(size)
        else:
            errors.append(f"{where}.content[{j}]: a part must be text or an image_url")
    return "\n".join(texts), sizes


def computer_tool(names: dict[str, str]) -> dict[str, Any]:
    """The one function the rows call: the family's action names, points in the format's coordinates."""
    point = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    return {
        "name": TOOL_NAME,
        "description": "Use the mouse and keyboard. Coordinates are [x, y] on the current screenshot, "
        "in the units the screenshot's caption names.",
        "parameters": {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": sorted({n for a, n in names.items() if a != "terminate"})},
                "coordinate": point,
                "start_coordinate": point,
                "button": {"type": "string", "enum": ["right"]},
                "direction": {"type": "string", "enum": ["up", "down", "left", "right"]},
                "amount": {"type": "integer", "minimum": 1},
                "text": {"type": "string"},
                "keys": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["action"],
        },
    }
