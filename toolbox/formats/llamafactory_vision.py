"""LLaMA-Factory multimodal ShareGPT rows (its `mllm_demo` layout), one per step of a recorded
episode: `messages` (system, user with one `<image>` per image, assistant with the action),
`images` (paths relative to the JSONL), and `grounding` (what `validate` round-trips points with;
LLaMA-Factory drops columns it does not map). The `dataset_info.json` entry is written beside
the output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from toolbox.core.format import Format
from toolbox.core.io import write_atomic
from toolbox.core.models import Episode
from toolbox.core.registry import register_format
from toolbox.vision.actions import describe, points_in, render, system_prompt
from toolbox.vision.images import file_size
from toolbox.vision.trajectory import (
    ExportedStep,
    Exporter,
    FileImageOptions,
    HistoryOptions,
    check_grounding,
    history_window,
    step_prompt,
    syntax_for,
)

IMAGE = "<image>"
ROLES = ("system", "user", "assistant")


@register_format("llamafactory_vision")
class LlamaFactoryVisionFormat(Format):
    """LLaMA-Factory multimodal ShareGPT, a row per step: screenshot files, grid1000 points (or the family's)."""

    class Options(FileImageOptions, HistoryOptions):
        pass

    options: Options

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exporter = Exporter(self.options, self.ctx, default_coordinates="grid1000")
        self.syntax = syntax_for(self.exporter.family)
        self.system = system_prompt(self.syntax, self.exporter.names)
        self.folder: Path | None = None

    def start(self, output: Path) -> None:
        self.folder = self.exporter.folder = output.resolve().parent
        self.ctx.on_finish(self.write_dataset_info)

    def encode_rows(self, episode: Episode) -> list[dict[str, Any]]:
        trajectory = self.exporter.trajectory(episode)
        self.exporter.prepare_images(
            trajectory, self.options.images_dir, str(episode.metadata.get("session") or "session")
        )
        steps = trajectory.steps
        rows = []
        for index, current in enumerate([*steps, trajectory.final]):
            shown = [*history_window(steps, index, self.options.history_images), current]
            images = [self.exporter.image(s.shot) for s in shown]
            prompt = step_prompt(trajectory, index, self.options.history_images, self.exporter.convention)
            grounding = self.exporter.grounding(
                [(len(shown) - 1, p, current.shot) for p in current.points], self.syntax
            )
            rows.append(
                {
                    "messages": [
                        {"role": "system", "content": self.system},
                        {"role": "user", "content": IMAGE * len(images) + prompt},
                        {"role": "assistant", "content": self.reply(current)},
                    ],
                    "images": images,
                    "grounding": grounding,
                }
            )
        self.exporter.count("rows", len(rows))
        return rows

    def reply(self, current: ExportedStep) -> str:
        """The assistant's turn: the thought, then the action in the family's syntax; the closing
        step's turn is the answer (and the family's terminate call, when it has one)."""
        step, points = current.step, [p.exported for p in current.points]
        if step.action == "terminate" and self.syntax == "tool_call":
            answer = step.text or "The task is done."
            return (
                f"{answer}\n{render(self.syntax, step, self.exporter.names, [])}"
                if "terminate" in self.exporter.names
                else answer
            )
        call = render(self.syntax, step, self.exporter.names, points)
        if self.syntax == "pyautogui":
            thought = f"## Thought:\n{step.thought}\n\n" if step.thought else ""
            return f"{thought}## Action:\n{describe(step)}\n\n## Code:\n```python\n{call}\n```"
        if self.syntax == "ui_tars":
            return f"Thought: {step.thought}\n{call}" if step.thought else call
        return f"{step.thought}\n{call}" if step.thought else call

    def write_dataset_info(self, output: Path) -> None:
        """Add (or replace) this file's entry in `dataset_info.json` beside it, keeping the others."""
        info_path = output.resolve().parent / "dataset_info.json"
        try:
            info = orjson.loads(info_path.read_bytes()) if info_path.exists() else {}
        except (OSError, orjson.JSONDecodeError) as exc:
            self.ctx.stats.problem("dataset_info", f"{info_path}: cannot read it ({exc}); left as it is")
            return
        info[output.stem] = {
            "file_name": output.name,
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }
        write_atomic(info_path, orjson.dumps(info, option=orjson.OPT_INDENT_2))

    def validate(self, row: Any) -> list[str]:
        if not isinstance(row, dict):
            return ["row is not a JSON object"]
        messages, images = row.get("messages"), row.get("images")
        if not isinstance(messages, list) or not messages:
            return ["'messages' must be a non-empty list"]
        if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
            return ["'images' must be a list of paths"]
        errors: list[str] = []
        chat = [m for m in messages if isinstance(m, dict) and m.get("role") != "system"]
        if any(
            not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str)
            for m in messages
        ):
            errors.append("every message needs a role (system, user, assistant) and string content")
        elif [m["role"] for m in chat] != ["user", "assistant"] * (len(chat) // 2) or len(chat) % 2:
            errors.append("after an optional system message, messages must alternate user, assistant")
        if errors:
            return errors
        tokens = sum(m["content"].count(IMAGE) for m in messages)
        if tokens != len(images):
            errors.append(f"{tokens} {IMAGE} tokens for {len(images)} images")
        if self.folder is None:
            return errors + ["the images are relative to the row's file, which is not known (start was not called)"]
        folder = self.folder
        missing = [i for i in images if not (folder / i).is_file()]
        if missing:
            return errors + [f"image {missing[0]} not found beside the file"]
        grounding = row.get("grounding")
        syntax = grounding.get("syntax", "tool_call") if isinstance(grounding, dict) else "tool_call"
        try:
            points = points_in(syntax, messages[-1]["content"])
        except ValueError as exc:
            return errors + [f"the assistant's call cannot be read ({exc})"]
        return errors + check_grounding(
            grounding, [(p, len(images) - 1) for p in points], lambda i: file_size(folder / images[i])
        )
