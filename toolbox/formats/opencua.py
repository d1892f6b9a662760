"""OpenCUA / AgentNet trajectories, one row per recorded episode: `task_id`, `instruction` and
`traj`, a list of steps each with its screenshot (`image`, a path relative to the JSONL) and
`value` holding `observation` (the screen text the step starts from), `thought`, `action` (what
it does, in words) and `code` (pyautogui with 0-1 coordinates by default), ending in a
`computer.terminate(status='success')` step. `grounding` is what `validate` round-trips points
with. The whole trajectory is one row: a trainer picks how many earlier screenshots a step sees,
so this format has no `history_images`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolbox.core.format import Format
from toolbox.core.models import Episode
from toolbox.core.registry import register_format
from toolbox.vision.actions import describe, points_in, render
from toolbox.vision.images import file_size
from toolbox.vision.trajectory import Exporter, FileImageOptions, check_grounding

VALUE_KEYS = ("observation", "thought", "action", "code")


@register_format("opencua")
class OpenCUAFormat(Format):
    """OpenCUA/AgentNet trajectories: screenshot files, pyautogui code in 0-1 coordinates, ending in terminate."""

    class Options(FileImageOptions):
        pass

    options: Options

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exporter = Exporter(self.options, self.ctx, default_coordinates="normalized")
        self.folder: Path | None = None

    def start(self, output: Path) -> None:
        self.folder = self.exporter.folder = output.resolve().parent

    def encode(self, episode: Episode) -> dict[str, Any]:
        trajectory = self.exporter.trajectory(episode)
        self.exporter.prepare_images(
            trajectory, self.options.images_dir, str(episode.metadata.get("session") or "session")
        )
        traj, located = [], []
        previous = None
        for index, current in enumerate([*trajectory.steps, trajectory.final]):
            step = current.step
            code = render("pyautogui", step, self.exporter.names, [p.exported for p in current.points])
            traj.append(
                {
                    "index": index,
                    "image": self.exporter.image(current.shot),
                    "value": {
                        "observation": (previous.observation if previous else None) or "",
                        "thought": step.thought or "",
                        "action": describe(step),
                        "code": code,
                    },
                }
            )
            located += [(index, point, current.shot) for point in current.points]
            previous = step
        self.exporter.count("rows")
        return {
            "task_id": episode.id,
            "instruction": trajectory.instruction,
            "traj": traj,
            "grounding": self.exporter.grounding(located, "pyautogui"),
        }

    def validate(self, row: Any) -> list[str]:
        if not isinstance(row, dict):
            return ["row is not a JSON object"]
        errors = [
            f"'{key}' must be a string" for key in ("task_id", "instruction") if not isinstance(row.get(key), str)
        ]
        traj = row.get("traj")
        if not isinstance(traj, list) or not traj:
            return errors + ["'traj' must be a non-empty list of steps"]
        for i, step in enumerate(traj):
            value = step.get("value") if isinstance(step, dict) else None
            if not isinstance(value, dict) or not isinstance(step.get("image"), str):
                errors.append(f"traj[{i}]: a step needs 'image' (a path) and 'value' (an object)")
            elif any(not isinstance(value.get(key), str) for key in VALUE_KEYS):
                errors.append(f"traj[{i}].value: {', '.join(VALUE_KEYS)} must be strings")
        if errors:
            return errors
        if not traj[-1]["value"]["code"].startswith("computer.terminate("):
            errors.append("the last step must be computer.terminate(...)")
        if self.folder is None:
            return errors + ["the images are relative to the row's file, which is not known (start was not called)"]
        folder = self.folder
        missing = [s["image"] for s in traj if not (folder / s["image"]).is_file()]
        if missing:
            return errors + [f"image {missing[0]} not found beside the file"]
        exported = [(point, i) for i, s in enumerate(traj) for point in points_in("pyautogui", s["value"]["code"])]
        return errors + check_grounding(row.get("grounding"), exported, lambda i: file_size(folder / traj[i]["image"]))
