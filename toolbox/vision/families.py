"""Model families: the coordinates, image size and action names each kind of agent model expects,
and `export_size`, the size an exported screenshot gets.

Sources (public; checked when this was written):
- qwen2.5-vl: Qwen/Qwen2.5-VL-*-Instruct preprocessor_config.json (patch 14 x merge 2 = factor 28,
  min_pixels 3136, max_pixels 12845056); absolute pixels of the resized image, as in the
  QwenLM/Qwen2.5-VL cookbook mobile_agent.ipynb, which tells the model "The screen's resolution is
  1092x2408" for a 1080x2400 screenshot; action names of its `computer_use` tool
  (cookbooks/utils/agent_function_call.py).
- qwen3-vl: Qwen/Qwen3-VL preprocessor_config.json size {shortest_edge: 65536, longest_edge:
  16777216} (the README says these are min_pixels/max_pixels), patch 16 x merge 2 = factor 32;
  relative coordinates "scaled from 0 to 1000" (QwenLM/Qwen3-VL cookbooks); same `computer_use`
  action names. Its mobile_agent cookbook describes the screen as 999x999 instead: a grid that
  differs by 0.1 %, under a pixel on screens up to 1000 px.
- ui-tars-1.5: bytedance/UI-TARS codes/ui_tars/action_parser.py (factor 28, MIN_PIXELS 100*28*28,
  MAX_PIXELS 16384*28*28; "qwen25vl" outputs are absolute pixels of the smart_resize image);
  action names from its computer-use prompt (click, left_double, right_single, drag, hotkey,
  type, scroll, wait, finished).
- opencua: AgentNet trajectories (xlang-ai/OpenCUA) write pyautogui calls with 0-1 coordinates and
  end with computer.terminate(status='success'); screenshots ship at their native size, and 0-1
  coordinates do not depend on it, so the caller's image_max_side decides.
- anthropic: anthropics/anthropic-quickstarts computer-use-demo tools/computer.py scales
  screenshots down to XGA 1024x768, WXGA 1280x800 or FWXGA 1366x768 ("sizes above XGA/WXGA are not
  recommended"), picking the one whose aspect ratio is within 0.02 of the screen's; coordinates are
  pixels of that screenshot. For other aspect ratios the demo keeps the native size, which the API
  would shrink on its own (Claude's vision docs: long edge over 1568 px or over ~1.15 megapixels);
  we fit those inside WXGA instead, so the model sees the pixels the coordinates are in.
- openai: computer-use-preview actions (click with a button, double_click, drag with a path,
  keypress, move, scroll, type, wait) in screenshot pixels; openai/openai-cua-sample-app's
  computers report a 1024x768 display, hence a 1024 px long side.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from toolbox.vision.coordinates import CONVENTIONS, Convention
from toolbox.vision.resize import (
    Size,
    VisionError,
    check_size,
    fit_within,
    smart_resize,
)

# The step action space (issue "Trajectories for vision-language agents"); a family maps each to
# its own name. An action a family has no name for (Anthropic's and OpenAI's tools cannot
# terminate) is left out: the format decides how to say it, e.g. as a final text answer.
ACTIONS = ("click", "double_click", "right_click", "drag", "scroll", "type", "hotkey", "paste", "wait", "terminate")


class SmartResizeImage(BaseModel):
    """The exported image is what the model's processor would resize it to anyway."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["smart_resize"] = "smart_resize"
    factor: int = Field(gt=0)
    min_pixels: int = Field(gt=0)
    max_pixels: int = Field(gt=0)


class LongSideImage(BaseModel):
    """Downscaled (never up) so that the long side is at most `max_side`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["max_side"] = "max_side"
    max_side: int | None = Field(default=None, gt=0)  # None: the caller's image_max_side


class ScalingTargetImage(BaseModel):
    """Downscaled to the standard size whose aspect ratio matches the frame's, else fitted in a box."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["scaling_targets"] = "scaling_targets"
    targets: tuple[Size, ...]
    aspect_tolerance: float = 0.02
    fallback_box: Size


ImagePolicy = Annotated[SmartResizeImage | LongSideImage | ScalingTargetImage, Field(discriminator="kind")]


class ModelFamily(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    coordinates: Convention
    image: ImagePolicy
    actions: dict[str, str]  # our action (ACTIONS) -> the family's name for it

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, actions: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(actions) - set(ACTIONS))
        if unknown:
            raise ValueError(f"unknown actions {unknown}; known: {', '.join(ACTIONS)}")
        return actions


_QWEN_COMPUTER_USE = {
    "click": "left_click",
    "double_click": "double_click",
    "right_click": "right_click",
    "drag": "left_click_drag",
    "scroll": "scroll",
    "type": "type",
    "hotkey": "key",
    "paste": "key",
    "wait": "wait",
    "terminate": "terminate",
}
QWEN25_IMAGE = SmartResizeImage(factor=28, min_pixels=3136, max_pixels=12845056)

FAMILIES: dict[str, ModelFamily] = {
    f.name: f
    for f in [
        ModelFamily(name="qwen2.5-vl", coordinates="smart_resize", image=QWEN25_IMAGE, actions=_QWEN_COMPUTER_USE),
        ModelFamily(
            name="qwen3-vl",
            coordinates="grid1000",
            image=SmartResizeImage(factor=32, min_pixels=65536, max_pixels=16777216),
            actions=_QWEN_COMPUTER_USE,
        ),
        ModelFamily(
            name="ui-tars-1.5",
            coordinates="smart_resize",
            image=SmartResizeImage(factor=28, min_pixels=100 * 28 * 28, max_pixels=16384 * 28 * 28),
            actions={
                "click": "click",
                "double_click": "left_double",
                "right_click": "right_single",
                "drag": "drag",
                "scroll": "scroll",
                "type": "type",
                "hotkey": "hotkey",
                "paste": "hotkey",
                "wait": "wait",
                "terminate": "finished",
            },
        ),
        ModelFamily(
            name="opencua",
            coordinates="normalized",
            image=LongSideImage(),
            actions={
                "click": "pyautogui.click",
                "double_click": "pyautogui.doubleClick",
                "right_click": "pyautogui.rightClick",
                "drag": "pyautogui.dragTo",
                "scroll": "pyautogui.scroll",
                "type": "pyautogui.write",
                "hotkey": "pyautogui.hotkey",
                "paste": "pyautogui.hotkey",
                "wait": "computer.wait",
                "terminate": "computer.terminate",
            },
        ),
        ModelFamily(
            name="anthropic",
            coordinates="pixels",
            image=ScalingTargetImage(targets=((1024, 768), (1280, 800), (1366, 768)), fallback_box=(1280, 800)),
            actions={
                "click": "left_click",
                "double_click": "double_click",
                "right_click": "right_click",
                "drag": "left_click_drag",
                "scroll": "scroll",
                "type": "type",
                "hotkey": "key",
                "paste": "key",
                "wait": "wait",
            },
        ),
        ModelFamily(
            name="openai",
            coordinates="pixels",
            image=LongSideImage(max_side=1024),
            actions={
                "click": "click",
                "double_click": "double_click",
                "right_click": "click",
                "drag": "drag",
                "scroll": "scroll",
                "type": "type",
                "hotkey": "keypress",
                "paste": "keypress",
                "wait": "wait",
            },
        ),
    ]
}


def model_family(name: str) -> ModelFamily:
    """The preset called `name`."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise VisionError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}") from None


def _policy(target: str | ModelFamily) -> ImagePolicy:
    if isinstance(target, ModelFamily):
        return target.image
    if target in FAMILIES:
        return FAMILIES[target].image
    if target == "smart_resize":
        return QWEN25_IMAGE  # the convention on its own means Qwen2.5-VL's processor
    if target in CONVENTIONS:
        return LongSideImage()
    raise VisionError(
        f"unknown coordinate convention or model family {target!r}; "
        f"known: {', '.join(CONVENTIONS)}, {', '.join(FAMILIES)}"
    )


def export_size(frame_size: Size, target: str | ModelFamily, image_max_side: int | None = None) -> Size:
    """(width, height) of the exported screenshot of a `frame_size` frame, for a coordinate
    convention or a model family.

    `image_max_side` caps the long side where the size is ours to choose (normalized, pixels,
    grid1000, opencua; for openai it replaces the family's 1024). It does not apply where the
    model's own resize fixes the coordinate space (smart_resize families, anthropic's standard
    sizes): a smaller image there would put the coordinates in a space the model never sees.
    """
    check_size(frame_size, "frame size")
    if image_max_side is not None and (not isinstance(image_max_side, int) or image_max_side <= 0):
        raise VisionError(f"image_max_side must be a positive whole number of pixels, got {image_max_side}")
    policy = _policy(target)
    if isinstance(policy, SmartResizeImage):
        height, width = smart_resize(frame_size[1], frame_size[0], policy.factor, policy.min_pixels, policy.max_pixels)
        return width, height
    if isinstance(policy, ScalingTargetImage):
        return _scaling_target(frame_size, policy)
    max_side = image_max_side if image_max_side is not None else policy.max_side
    if max_side is None:
        raise VisionError(
            f"image_max_side is needed to size images for {target if isinstance(target, str) else target.name}"
        )
    return fit_within(frame_size, (max_side, max_side))


def _scaling_target(frame_size: Size, policy: ScalingTargetImage) -> Size:
    width, height = frame_size
    for target_width, target_height in policy.targets:
        if abs(target_width / target_height - width / height) < policy.aspect_tolerance:
            return (target_width, target_height) if target_width < width else frame_size
    return fit_within(frame_size, policy.fallback_box)
