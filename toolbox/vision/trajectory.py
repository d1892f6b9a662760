"""What the vision formats share: their options, an episode's steps with their screenshots and
exported points (each checked by the round trip before a row is made), the images written
beside the output, the prompt of a step, and the grounding record that lets `validate` map
every exported point back onto its recorded frame.

A row's grounding (`{"convention", "sizing", "image_max_side", "points": [...]}`) lists, for
each point the row's calls name, in order: the index of the image it is on (in the row's
images), the recorded frame's size, the recorded point (frame pixels) and the target's box when
one is known. `check_grounding` reads the exported points from the calls themselves, maps them
back through the image's actual size and the convention, and checks each lands in its box
(or within 2 frame pixels of the recorded point); it also checks the image has the size the
sizing asks for (a wrongly sized image makes pixel coordinates point elsewhere).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import Field, field_validator, model_validator

from toolbox.core.format import FormatError
from toolbox.core.models import Episode, Step
from toolbox.core.plugin import BuildContext, Options
from toolbox.vision.actions import OWN_NAMES, Syntax, describe
from toolbox.vision.coordinates import CONVENTIONS, Convention, Exported, decode, encode, round_trip_ok
from toolbox.vision.families import FAMILIES, ModelFamily, export_size, model_family
from toolbox.vision.images import ImageFormat, data_url, file_size, resized, write_image
from toolbox.vision.resize import Size, VisionError

TOLERANCE_PX = 2.0


class VisionOptions(Options):
    """Options every vision format takes. `coordinates` defaults to the model family's, else
    the format's own default (`DEFAULT_COORDINATES`)."""

    coordinates: Convention | None = None
    model_family: str | None = None  # qwen2.5-vl, qwen3-vl, ui-tars-1.5, opencua, anthropic, openai
    image_max_side: int = Field(1280, gt=0)  # long side of exported images where the size is ours to choose
    image_format: ImageFormat = "png"

    @field_validator("model_family")
    @classmethod
    def _known_family(cls, name: str | None) -> str | None:
        if name is not None and name not in FAMILIES:
            raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
        return name

    @model_validator(mode="after")
    def _one_coordinate_system(self) -> VisionOptions:
        if self.model_family and self.coordinates and self.coordinates != FAMILIES[self.model_family].coordinates:
            family = FAMILIES[self.model_family]
            raise ValueError(
                f"coordinates {self.coordinates!r} contradicts model_family {family.name!r}, which uses "
                f"{family.coordinates!r}; give one of them"
            )
        return self


class FileImageOptions(VisionOptions):
    images_dir: str = "images"  # exported screenshots go here, relative to the output's folder


class HistoryOptions(Options):
    history_images: int = Field(2, ge=0)  # earlier screenshots a step's row carries besides its own


@dataclass(frozen=True)
class Shot:
    """A screenshot a row shows: the recorded frame and the size it is exported at."""

    frame: Path
    frame_size: Size
    size: Size


@dataclass
class ExportedPoint:
    """A recorded point and its exported value."""

    recorded: tuple[int, int]
    exported: Exported
    box: tuple[int, int, int, int] | None


@dataclass
class ExportedStep:
    step: Step
    shot: Shot
    points: list[ExportedPoint] = field(default_factory=list)


@dataclass
class Trajectory:
    """An episode ready to export: its request, steps and closing answer. `final` is the
    terminate step (text: the answer, if any) on the screen the last action led to."""

    instruction: str
    steps: list[ExportedStep]
    final: ExportedStep


@dataclass
class Exporter:
    """One build's export of screenshots and points for a vision format."""

    options: VisionOptions
    ctx: BuildContext
    default_coordinates: Convention
    folder: Path | None = None  # the output's folder (files are written under it)
    written: set[Path] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.family: ModelFamily | None = model_family(self.options.model_family) if self.options.model_family else None
        self.convention: Convention = self.options.coordinates or (
            self.family.coordinates if self.family else self.default_coordinates
        )
        self.names: dict[str, str] = dict(self.family.actions) if self.family else dict(OWN_NAMES)
        self.sizing: str = self.family.name if self.family else self.convention
        self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
        self._prepared: dict[Shot, str] = {}

    # -- an episode ---------------------------------------------------------------------------

    def trajectory(self, episode: Episode) -> Trajectory:
        """The episode's steps with screenshots and checked points; FormatError (with a counted
        reason) when it has none, a step has no screenshot, or a point cannot be exported."""
        metadata = episode.metadata
        raw = metadata.get("steps") or []
        if not metadata.get("session_path"):
            raise FormatError(
                "only episodes made from recorded sessions have steps with screenshots", reason="no recorded steps"
            )
        if not raw:
            raise FormatError("the episode shows no action (its typing became the reply)", reason="no steps")
        folder = Path(metadata["session_path"])
        steps = [Step.model_validate(s) for s in raw]
        exported = [self._exported(step, folder) for step in steps]
        last = steps[-1]
        final_frame = last.frame_after or last.frame_before
        assert final_frame is not None  # _exported refused a step without a frame
        final_shot = self.shot(folder / final_frame, None if last.frame_after else last.frame_size)
        instruction = next((t.content for t in episode.turns if t.role == "user" and t.content), "") or ""
        closing = episode.turns[-1] if episode.turns else None
        answer = closing.content if closing and closing.role == "assistant" and closing.weight != 0 else None
        final = ExportedStep(Step(action="terminate", t=last.t, text=answer or None), final_shot)
        return Trajectory(instruction, exported, final)

    def _exported(self, step: Step, folder: Path) -> ExportedStep:
        if step.frame_before is None or step.frame_size is None:
            raise FormatError(
                f"step at t={step.t:.3f} ({step.action}) has no screenshot", reason="a step has no screenshot"
            )
        shot = self.shot(folder / step.frame_before, step.frame_size)
        out = ExportedStep(step, shot)
        for point, box in ((step.point, step.target_box), (step.to_point, None)):
            if point is not None:
                out.points.append(self._point(point, box, shot))
        if step.action in ("click", "double_click", "right_click", "scroll") and len(out.points) != 1:
            raise FormatError(
                f"{step.action} at t={step.t:.3f} has no point on its frame", reason="a step has no point"
            )
        if step.action == "drag" and len(out.points) != 2:
            raise FormatError(f"drag at t={step.t:.3f} has no end point", reason="a step has no point")
        return out

    def _point(self, point: tuple[int, int], box: tuple[int, int, int, int] | None, shot: Shot) -> ExportedPoint:
        try:
            exported = encode(point, self.convention, shot.frame_size, shot.size)
        except VisionError as exc:
            raise FormatError(str(exc), reason="point outside its frame") from None
        if not round_trip_ok(point, exported, self.convention, shot.frame_size, shot.size, box, TOLERANCE_PX):
            raise FormatError(
                f"{point} exported as {exported} on a {shot.size[0]}x{shot.size[1]} image comes back off its target",
                reason="point does not round-trip",
            )
        return ExportedPoint(point, exported, box)

    def shot(self, frame: Path, frame_size: Size | None) -> Shot:
        if frame_size is None:
            try:
                frame_size = file_size(frame)
            except VisionError as exc:
                raise FormatError(str(exc), reason="frame unreadable") from None
        return Shot(
            frame, frame_size, export_size(frame_size, self.family or self.convention, self.options.image_max_side)
        )

    # -- images -------------------------------------------------------------------------------

    def prepare_images(self, trajectory: Trajectory, images_dir: str | None, session: str = "session") -> None:
        """Make the trajectory's screenshots, several at once (Pillow lets go of the GIL while it
        decodes, resizes and encodes): files under `images_dir` beside the output, written once
        per build, or, with `images_dir` None, data URLs (RGB, as OpenAI requires)."""
        shots = list(dict.fromkeys(s.shot for s in [*trajectory.steps, trajectory.final]))
        fmt = self.options.image_format
        if images_dir is None:
            urls = list(self._pool.map(lambda shot: data_url(self._image(shot, rgb=True), fmt), shots))
            self._prepared = dict(zip(shots, urls))
            self.count("images", len(urls))
            self.count("image_bytes", sum(len(url) for url in urls))
            return
        assert self.folder is not None, "start(output) was not called"
        folder = self.folder
        relative = {
            shot: Path(images_dir) / _safe(session) / f"{shot.frame.stem}-{shot.size[0]}x{shot.size[1]}.{fmt}"
            for shot in shots
        }
        todo = [(folder / path, shot) for shot, path in relative.items() if folder / path not in self.written]
        written = list(self._pool.map(lambda item: write_image(self._image(item[1]), item[0], fmt), todo))
        self.written.update(target for target, _ in todo)
        self._prepared = {shot: path.as_posix() for shot, path in relative.items()}
        self.count("images", len(written))
        self.count("image_bytes", sum(written))

    def image(self, shot: Shot) -> str:
        """A prepared shot: its path relative to the output's folder, or its data URL."""
        return self._prepared[shot]

    def _image(self, shot: Shot, rgb: bool = False) -> Image.Image:
        try:
            return resized(shot.frame, shot.size, shot.frame_size, rgb=rgb)
        except VisionError as exc:
            raise FormatError(str(exc), reason="frame unreadable") from None

    def count(self, key: str, n: int = 1) -> None:
        totals = self.ctx.stats.extra.setdefault("vision", {})
        totals[key] = totals.get(key, 0) + n

    # -- grounding ----------------------------------------------------------------------------

    def grounding(
        self, located: Sequence[tuple[int, ExportedPoint, Shot]], syntax: Syntax | None = None
    ) -> dict[str, Any]:
        """The record `check_grounding` reads: for each (image index, point, shot), in row order;
        `syntax`, when the calls are text, says how to read them."""
        return {
            **({"syntax": syntax} if syntax else {}),
            "convention": self.convention,
            "sizing": self.sizing,
            "image_max_side": self.options.image_max_side,
            "points": [
                {
                    "image": index,
                    "frame": list(shot.frame_size),
                    "point": list(point.recorded),
                    "box": list(point.box) if point.box else None,
                }
                for index, point, shot in located
            ],
        }


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name) or "session"


def syntax_for(family: ModelFamily | None) -> Syntax:
    """The call syntax a model family writes (Qwen's tool call when none is named)."""
    if family is not None and family.name == "ui-tars-1.5":
        return "ui_tars"
    if family is not None and family.name == "opencua":
        return "pyautogui"
    return "tool_call"


def check_grounding(
    grounding: Any, exported: Sequence[tuple[tuple[float, float], int]], image_size: Callable[[int], Size]
) -> list[str]:
    """Every rule the row's points break. `exported` holds each point the row's calls name, in
    order, with the index of the image the row shows it on. Each must be on the image the
    grounding says, and, mapped back through that image's actual size (`image_size(index)`) and
    the convention, land in the recorded target box or within 2 frame pixels of the recorded
    point; each image must have the size its sizing gives its frame."""
    if not isinstance(grounding, dict) or not isinstance(grounding.get("points"), list):
        return ["grounding must be an object with a 'points' list"]
    convention = grounding.get("convention")
    if convention not in CONVENTIONS:
        return [f"grounding: unknown convention {convention!r}"]
    points = grounding["points"]
    if len(points) != len(exported):
        return [f"the calls name {len(exported)} points, the grounding records {len(points)}"]
    errors = []
    for number, (entry, (value, shown_on)) in enumerate(zip(points, exported)):
        where = f"point {number + 1}"
        try:
            if int(entry["image"]) != shown_on:
                errors.append(f"{where}: named with image {shown_on}, recorded on image {entry['image']}")
                continue
            frame = _size(entry["frame"])
            size = image_size(shown_on)
            expected = export_size(frame, grounding["sizing"], grounding.get("image_max_side"))
            box = tuple(entry["box"]) if entry.get("box") else None
            recorded = (entry["point"][0], entry["point"][1])
            if size != expected:
                errors.append(
                    f"{where}: image {shown_on} is {size[0]}x{size[1]}; {grounding['sizing']} "
                    f"gives a {frame[0]}x{frame[1]} frame {expected[0]}x{expected[1]}"
                )
            elif not round_trip_ok(recorded, value, convention, frame, size, box, TOLERANCE_PX):  # type: ignore[arg-type]
                back = decode(value, convention, frame, size)
                target = f"the target box {list(box)}" if box else f"{TOLERANCE_PX:g} px of {list(recorded)}"
                errors.append(
                    f"{where}: {list(value)} maps back to ({back[0]:.1f}, {back[1]:.1f}), not within {target}"
                )
        except (KeyError, IndexError, TypeError, ValueError) as exc:  # VisionError is a ValueError
            errors.append(f"{where}: {exc}")
    return errors


def _size(value: Any) -> Size:
    width, height = value
    return int(width), int(height)


# -- a step's prompt (the chat formats) -----------------------------------------------------------


def history_window(steps: Sequence[ExportedStep], index: int, history_images: int) -> list[ExportedStep]:
    """The earlier steps whose screenshots step `index`'s row carries (the most recent ones)."""
    return list(steps[max(0, index - history_images) : index])


def step_prompt(trajectory: Trajectory, index: int, history_images: int, convention: Convention) -> str:
    """The user text of step `index`'s row (len(steps) is the closing step): the task, what was
    done so far, what the screen showed after the last action, and what the images are."""
    steps = trajectory.steps
    lines = [f"Task: {trajectory.instruction}"]
    if index:
        lines.append("\nPrevious actions:")
        lines += [f"{n + 1}. {describe(s.step)}" for n, s in enumerate(steps[:index])]
        observation = steps[index - 1].step.observation
        if observation:
            lines.append(f"\nText that appeared on the screen after the last action:\n{observation}")
    earlier = len(history_window(steps, index, history_images))
    shot = steps[index].shot if index < len(steps) else trajectory.final.shot
    screen = f"The last image is the current screen ({shot.size[0]}x{shot.size[1]} pixels)"
    if earlier:
        first = f"The first {earlier} images are" if earlier > 1 else "The first image is"
        screen = f"{first} the screen before earlier actions. {screen}"
    lines.append(f"\n{screen}; coordinates are {COORDINATES[convention]}.")
    return "\n".join(lines)


COORDINATES = {
    "normalized": "fractions from 0 to 1 of the image's width and height",
    "pixels": "pixels of that image, from its top left corner",
    "smart_resize": "pixels of that image, from its top left corner",
    "grid1000": "on a 0-1000 grid over that image",
}
