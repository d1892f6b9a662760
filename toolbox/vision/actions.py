"""A step's action as the text or call a model writes, in three syntaxes, and the points read
back out of it (what `validate` round-trips):

- `tool_call`: Qwen's function-call text, `<tool_call>{"name": "computer_use", "arguments":
  {"action": "left_click", "coordinate": [x, y]}}</tool_call>` (Qwen2.5-VL/Qwen3-VL computer use;
  the same arguments as Anthropic's computer tool); OpenAI rows carry the same arguments as a
  real tool call;
- `ui_tars`: `Action: click(point='<point>x y</point>')` (UI-TARS-1.5);
- `pyautogui`: `pyautogui.click(x=0.7007, y=0.9438)` (OpenCUA/AgentNet).

Names come from the model family (`families.py`); with none, the step action's own name.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from toolbox.core.models import Step
from toolbox.vision.coordinates import Exported
from toolbox.vision.families import ACTIONS, model_family

Syntax = Literal["tool_call", "ui_tars", "pyautogui"]
TOOL_NAME = "computer_use"
OWN_NAMES = {action: action for action in ACTIONS}

_TOOL_CALL = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.S)
_PYAUTOGUI_POINT = re.compile(
    r"^(?:pyautogui\.(?:click|doubleClick|rightClick|moveTo|dragTo)|computer\.triple_click)"
    r"\(x=(-?[0-9.]+), y=(-?[0-9.]+)",
    re.M,
)
_UI_TARS_ACTION = re.compile(r"^Action: (\w+)\((.*)\)$", re.M)
_UI_TARS_POINT = re.compile(r"(?:point|start_point|end_point)='<point>(-?[0-9.]+) (-?[0-9.]+)</point>'")


def arguments(step: Step, names: dict[str, str], points: list[Exported]) -> dict[str, Any]:
    """The call's arguments: `action` (the family's name) and what the action needs. Points
    are `coordinate` (a drag's press is `start_coordinate`, its release `coordinate`)."""
    name = names[step.action]
    args: dict[str, Any] = {"action": name}
    if step.action in ("click", "double_click", "right_click"):
        args["coordinate"] = list(points[0])
        if step.action == "right_click" and name == names.get("click"):
            args["button"] = "right"  # a family that says right click with click's name and a button
    elif step.action == "drag":
        args["start_coordinate"], args["coordinate"] = list(points[0]), list(points[1])
    elif step.action == "scroll":
        direction, amount = scroll_direction(step)
        args.update(coordinate=list(points[0]), direction=direction, amount=amount)
    elif step.action == "type":
        args["text"] = step.text or ""
    elif step.action in ("hotkey", "paste"):
        args["keys"] = list(step.keys) or ["ctrl", "v"]
        if name == "paste" and step.text:
            args["text"] = step.text
    elif step.action == "terminate":
        args["status"] = "success"
    return args


def points_in_arguments(args: dict[str, Any]) -> list[tuple[float, float]]:
    """The points of a call's arguments, in the order `arguments` writes them."""
    out = []
    for key in ("start_coordinate", "coordinate"):
        value = args.get(key)
        if value is not None:
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
                raise ValueError(f"{key} must be [x, y], got {value!r}")
            out.append((value[0], value[1]))
    return out


def scroll_direction(step: Step) -> tuple[str, int]:
    dx, dy = step.scroll or (0, 0)
    if abs(dy) >= abs(dx):
        return ("up" if dy > 0 else "down"), max(1, abs(dy))
    return ("right" if dx > 0 else "left"), max(1, abs(dx))


def render(syntax: Syntax, step: Step, names: dict[str, str], points: list[Exported]) -> str:
    """The call as text in `syntax` (without the thought)."""
    if syntax == "tool_call":
        call = {"name": TOOL_NAME, "arguments": arguments(step, names, points)}
        return f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"
    if syntax == "ui_tars":
        return "Action: " + _ui_tars(step, points)
    return _pyautogui(step, points)


def points_in(syntax: Syntax, text: str) -> list[tuple[float, float]]:
    """Every point the calls in `text` name, in order (raises ValueError on a broken call)."""
    if syntax == "tool_call":
        points = []
        for body in _TOOL_CALL.findall(text):
            call = json.loads(body)
            if not isinstance(call, dict) or not isinstance(call.get("arguments"), dict):
                raise ValueError("a <tool_call> must hold {'name': ..., 'arguments': {...}}")
            points += points_in_arguments(call["arguments"])
        return points
    if syntax == "ui_tars":
        names = model_family("ui-tars-1.5").actions
        pointer = {names[a] for a in ("click", "double_click", "right_click", "drag", "scroll")}
        return [
            (float(x), float(y))
            for name, args in _UI_TARS_ACTION.findall(text)
            if name in pointer
            for x, y in _UI_TARS_POINT.findall(args)
        ]
    return [(float(x), float(y)) for x, y in _PYAUTOGUI_POINT.findall(text)]


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def _ui_tars(step: Step, points: list[Exported]) -> str:
    names = model_family("ui-tars-1.5").actions
    name = names[step.action]

    def point(p: Exported) -> str:
        return f"'<point>{_num(p[0])} {_num(p[1])}</point>'"

    def quoted(text: str) -> str:  # UI-TARS escapes quotes and writes a newline as \n
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\n", "\\n") + "'"

    if step.action in ("click", "double_click", "right_click"):
        return f"{name}(point={point(points[0])})"
    if step.action == "drag":
        return f"{name}(start_point={point(points[0])}, end_point={point(points[1])})"
    if step.action == "scroll":
        return f"{name}(point={point(points[0])}, direction='{scroll_direction(step)[0]}')"
    if step.action == "type":
        return f"{name}(content={quoted(step.text or '')})"
    if step.action in ("hotkey", "paste"):
        return f"{name}(key='{' '.join(step.keys or ['ctrl', 'v'])}')"
    if step.action == "terminate":
        return f"{name}(content={quoted(step.text or '')})"
    return f"{name}()"


def _pyautogui(step: Step, points: list[Exported]) -> str:
    names = model_family("opencua").actions

    def at(p: Exported) -> str:
        return f"x={_num(p[0])}, y={_num(p[1])}"

    if step.action in ("click", "double_click", "right_click"):
        return f"{names[step.action]}({at(points[0])})"
    if step.action == "drag":
        return f"pyautogui.moveTo({at(points[0])})\n{names['drag']}({at(points[1])}, button='left')"
    if step.action == "scroll":
        dx, dy = step.scroll or (0, 0)
        wheel = f"pyautogui.scroll({dy})" if abs(dy) >= abs(dx) else f"pyautogui.hscroll({dx})"
        return f"pyautogui.moveTo({at(points[0])})\n{wheel}"
    if step.action == "type":
        return f"{names['type']}(message={step.text or ''!r})"
    if step.action in ("hotkey", "paste"):
        keys = list(step.keys) or ["ctrl", "v"]
        return f"{'pyautogui.press' if len(keys) == 1 else names[step.action]}(keys={keys!r})"
    if step.action == "terminate":
        return f"{names['terminate']}(status='success')"
    return f"{names[step.action]}()"


def describe(step: Step) -> str:
    """The action in words (no coordinates): earlier steps in a prompt, OpenCUA's `action`."""
    on = f" '{step.target}'" if step.target else ""
    if step.action == "click":
        return f"Click{on or ' on the screen'}"
    if step.action == "double_click":
        return f"Double-click{on or ' on the screen'}"
    if step.action == "right_click":
        return f"Right-click{on or ' on the screen'}"
    if step.action == "drag":
        return f"Drag from{on or ' a point'} to another point"
    if step.action == "scroll":
        direction, amount = scroll_direction(step)
        return f"Scroll {direction} {amount}"
    if step.action == "type":
        return f"Type {json.dumps(step.text or '', ensure_ascii=False)}"
    if step.action == "paste":
        return "Paste" + (f" {json.dumps(step.text, ensure_ascii=False)}" if step.text else f" ({'+'.join(step.keys)})")
    if step.action == "hotkey":
        return "Press " + "+".join(step.keys)
    if step.action == "terminate":
        return step.text or "The task is done."
    return "Wait for the screen to change"


def system_prompt(syntax: Syntax, names: dict[str, str]) -> str:
    """The system message of a step's row: what the model is and how it writes an action."""
    if syntax == "ui_tars":
        return UI_TARS_SYSTEM
    if syntax == "pyautogui":
        return PYAUTOGUI_SYSTEM
    listed = ", ".join(dict.fromkeys(names.values()))
    finish = (
        f'When the task is done, give the answer and call {{"action": "{names["terminate"]}", "status": "success"}}.'
        if "terminate" in names
        else "When the task is done, reply with the answer and no call."
    )
    return (
        "You operate a computer for the user. Each turn shows the task, the actions taken so far and screenshots. "
        f"Reply with a short thought when useful, then the next action as a call of the {TOOL_NAME} function, "
        f'<tool_call>\n{{"name": "{TOOL_NAME}", "arguments": {{"action": ..., ...}}}}\n</tool_call>, '
        f"with action one of {listed}. Pointer actions take coordinate [x, y] (a drag: start_coordinate and "
        "coordinate; a scroll: also direction and amount); typing takes text; keys take keys. " + finish
    )


UI_TARS_SYSTEM = """You are a GUI agent. You are given a task and your action history, with screenshots.
You need to perform the next action to complete the task.

## Output Format
```
Thought: ...
Action: ...
```

## Action Space
click(point='<point>x1 y1</point>')
left_double(point='<point>x1 y1</point>')
right_single(point='<point>x1 y1</point>')
drag(start_point='<point>x1 y1</point>', end_point='<point>x2 y2</point>')
hotkey(key='ctrl c')
type(content='xxx') # Use escape characters \\', \\", and \\n in content part; end with \\n to submit.
scroll(point='<point>x1 y1</point>', direction='down or up or right or left')
wait()
finished(content='xxx') # Use escape characters \\', \\", and \\n in content part."""

PYAUTOGUI_SYSTEM = """You are a GUI agent. You are given a task and a screenshot of the screen.
You need to perform a series of pyautogui actions to complete the task.

For each step, reply with an optional ## Thought, then ## Action (what to do, in words) and ## Code:
the action as PyAutoGUI code, or computer.wait(), or computer.terminate(status='success') when the task is done."""
