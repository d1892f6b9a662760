"""The `openai` transcriber: an LLM behind any OpenAI-compatible endpoint reads an interval's
evidence (and, with `vision`, its frames) and writes the episode: the user's request, a
goal-level function with its call and grounded response, and the final answer."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import Field

from toolbox.activity.models import Action, FrameRef, Interval
from toolbox.core.models import Episode, EpisodeEvidence, Source, stable_id
from toolbox.core.registry import register_transcriber
from toolbox.llm import LLMClient, LLMOptions, model_parser, response_format
from toolbox.llm.config import resolve_endpoint
from toolbox.llm.conversation import conversation_model, to_episode
from toolbox.llm.images import ImageError, image_data_url
from toolbox.llm.prepare import Messages, map_text
from toolbox.privacy.passwords import blackout
from toolbox.privacy.redactor import RedactionMap, Redactor
from toolbox.privacy.session import frame_boxes
from toolbox.transcribers.base import Transcriber
from toolbox.vision.steps import trajectory_steps

INSTRUCTIONS = """\
You write training data for a tool-using AI assistant from a recording of a person working on their computer.
From the evidence (window titles, actions, typed text, text on screen{images}) infer the goal behind what the person did, then write:
- user_request: the request as the person would have typed it to an assistant that does the work for them: first person, natural, with the specific names, dates and values from the evidence.
- steps: {steps_rule} Each step is a goal-level function that achieves the goal in one call (for example search_wandb_training_run(model_name, created_at)), never clicks or keystrokes: its name (snake_case), description and JSON-schema parameters; the call's arguments, with values from the evidence; and response: what the function returned, written from the text on screen after the action. Do not invent facts that are not in the evidence.{reasoning_rule}
- final_answer: the assistant's short answer to the user, based on the responses.
Reply with only one JSON object that matches this JSON schema:
{schema}"""

STEPS_RULE = {
    "interval": "usually exactly one call.",
    "task": "one call per sub-goal, in the order the person worked (the evidence has several intervals).",
}
REASONING_RULE = (
    "\n  Before each call write observation (one sentence: what is on screen or known so far) "
    "and thought (one sentence: why this call comes next)."
)


@dataclass
class Outcome:
    episode: Episode | None = None
    failure: str | None = None
    detail: str = ""
    problems: list[str] = field(default_factory=list)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_action(action: Action, start: float) -> str:
    where = f"{action.t - start:6.1f}s"
    if action.kind in ("click", "double_click", "right_click"):
        text = f"{action.kind.replace('_', ' ')} at ({action.x}, {action.y})"
    elif action.kind == "drag":
        text = f"drag from ({action.x}, {action.y}) to ({action.x2}, {action.y2})"
    elif action.kind == "scroll":
        text = f"scroll by ({action.dx}, {action.dy})"
    elif action.kind == "type":
        text = f"type {json.dumps(action.text or '', ensure_ascii=False)}"
    elif action.kind == "hotkey":
        text = "press " + "+".join(action.keys)
    else:
        text = f"switch to window {json.dumps(action.title or '', ensure_ascii=False)}"
    if action.target:
        text += f" on {json.dumps(_clip(action.target, 80), ensure_ascii=False)}"
    if action.title and action.kind != "switch_window":
        text += f" in {json.dumps(action.title, ensure_ascii=False)}"
    if action.result:
        text += f" -> then on screen: {json.dumps(_clip(action.result, 200), ensure_ascii=False)}"
    return f"- {where} {text}"


@register_transcriber("openai")
class OpenAITranscriber(Transcriber):
    """LLM transcriber (any OpenAI-compatible endpoint): infers the goal and writes a goal-level function call, cached and budgeted."""

    class Options(LLMOptions):
        per: Literal["interval", "task"] = "interval"  # one episode per interval, or per session's task
        vision: bool = False  # also send the frames as images (or `--use-vision` / `use_vision: true` in the YAML)
        image_max_side: int = Field(1024, ge=64)  # frames are downscaled to this longer side
        image_detail: Literal["auto", "low", "high"] = "auto"
        max_images: int = Field(4, ge=1)  # per request, evenly chosen across the frames
        reasoning: bool = False  # an observation and thought before each call
        system: str | None = None  # the episodes' system prompt
        max_screen_chars: int = Field(4000, ge=0)  # OCR text per interval
        max_actions: int = Field(80, ge=1)  # per interval
        instructions: str | None = None  # replaces the built-in instructions ({schema} is filled in)

    options: Options

    def __init__(self, options: Options | None = None, ctx: Any = None) -> None:
        super().__init__(options, ctx)
        self.reply_model = conversation_model(self.options.reasoning)
        resolve_endpoint(self.options, self.ctx.base_dir, self._where())  # a config error shows before any work
        self.vision = self.options.vision or self.ctx.use_vision
        # Every request's text is redacted again right before it is sent (defence in depth: the
        # interval task has redacted the evidence already, with the same options); on by default.
        self.redactor: Redactor | None = Redactor()
        # Set by the interval task, which puts in each interval what to black out on its frames.
        # Used on its own (intervals made elsewhere), the frames are the caller's business.
        self.frames_prepared = False

    @cached_property
    def client(self) -> LLMClient:
        """Made on first use: an audit builds the requests and never makes one."""
        return LLMClient(
            self.options, self.ctx, purpose="transcriber", where=self._where(), prepare=self.redact_messages
        )

    def _where(self) -> str:
        return f"transcriber ({self.plugin_name or 'openai'})"

    def use_redactor(self, redactor: Redactor | None) -> None:
        """The interval task's redaction options (None: `redact: false`); from now on a frame
        its evidence says nothing about is not sent."""
        self.redactor = redactor
        self.frames_prepared = True

    def redact_messages(self, messages: Messages) -> Messages:
        """The LLM layer's redaction seam: every text of the request, one map per request,
        numbered after the placeholders the text already holds."""
        if self.redactor is None:
            return messages
        redactor = self.redactor
        mapping = RedactionMap()
        for text in _texts(messages):
            mapping.skip_used(text)
        return map_text(messages, lambda text: redactor.redact(text, mapping))

    def request_messages(
        self,
        group: list[Interval],
        problems: list[str],
        sent_frames: list[tuple[Interval, FrameRef, list[tuple[int, int, int, int]]]] | None = None,
    ) -> Messages:
        """The messages sent for `group`, exactly (after the redaction seam): what an audit shows.
        `sent_frames` gets each frame sent as an image, in order, with its blacked-out boxes."""
        return self.redact_messages(self._messages(group, problems, sent_frames))

    # -- the plugin ----------------------------------------------------------------------

    def transcribe(self, intervals: Sequence[Interval]) -> Iterator[Episode]:
        groups = self._groups(intervals)
        stats = self.ctx.stats
        for group, outcome in zip(groups, self.client.map(self._transcribe_group, groups)):
            for problem in outcome.problems:
                stats.problem("frames", problem)
            if outcome.episode is not None:
                yield outcome.episode
            else:
                for interval in group:
                    stats.drop(self.plugin_name or "openai", outcome.failure or "failed", interval.id, outcome.detail)

    def groups(self, intervals: Sequence[Interval]) -> list[list[Interval]]:
        """The intervals of each request (one, or a session's task)."""
        return self._groups(intervals)

    def _groups(self, intervals: Sequence[Interval]) -> list[list[Interval]]:
        if self.options.per == "interval":
            return [[interval] for interval in intervals]
        groups: dict[str, list[Interval]] = {}
        for interval in intervals:
            groups.setdefault(interval.session_id, []).append(interval)
        return list(groups.values())

    # -- one request -------------------------------------------------------------------------

    def _messages(self, group: list[Interval], problems: list[str], sent_frames: list[Any] | None = None) -> Messages:
        return [
            {"role": "system", "content": self.instructions()},
            {"role": "user", "content": self._user_content(self.evidence(group), group, problems, sent_frames)},
        ]

    def _transcribe_group(self, group: list[Interval]) -> Outcome:
        outcome = Outcome()
        evidence = self.evidence(group)
        messages = self._messages(group, outcome.problems)
        first, last = group[0], group[-1]
        item = first.id if len(group) == 1 else f"{first.id}..{last.index}"
        result = self.client.ask(
            messages, model_parser(self.reply_model), item=item, response_format=response_format(self.reply_model)
        )
        if not result.ok:
            outcome.failure, outcome.detail = result.failure, result.detail
            return outcome
        metadata = {
            **EpisodeEvidence.joined([iv.metadata for iv in group])
            .model_copy(update={"steps": trajectory_steps([a for iv in group for a in iv.actions], first.session_path)})
            .as_metadata(),
            "transcriber": "openai",
            "model": self.client.model,
            "evidence": evidence,
        }
        source = Source(dataset="sessions", session=first.session_id, interval=(first.start, last.end))
        episode_id = stable_id(first.session_id, *(iv.index for iv in group), "openai")
        outcome.episode = to_episode(result.value, episode_id, source, self.options.system, metadata)
        return outcome

    def instructions(self) -> str:
        schema = json.dumps(self.reply_model.model_json_schema(), ensure_ascii=False)
        template = self.options.instructions or INSTRUCTIONS
        return (
            template.replace("{images}", ", screenshots" if self.vision else "")
            .replace("{steps_rule}", STEPS_RULE[self.options.per])
            .replace("{reasoning_rule}", REASONING_RULE if self.options.reasoning else "")
            .replace("{schema}", schema)
        )

    def evidence(self, group: list[Interval]) -> str:
        o = self.options
        parts = []
        task = group[0].task
        if task:
            parts.append(f"The person's own label for the task: {task}")
        for interval in group:
            lines = [f"## Interval {interval.index} ({interval.end - interval.start:.1f} s)"]
            if interval.windows:
                lines.append("Windows: " + " -> ".join(json.dumps(w, ensure_ascii=False) for w in interval.windows))
            if interval.apps:
                lines.append("Apps: " + ", ".join(interval.apps))
            if interval.actions:
                lines.append("Actions:")
                lines.extend(describe_action(a, interval.start) for a in interval.actions[: o.max_actions])
                if len(interval.actions) > o.max_actions:
                    lines.append(f"- ... {len(interval.actions) - o.max_actions} more actions")
            if interval.typed_text:
                lines.append("Typed text: " + json.dumps(interval.typed_text, ensure_ascii=False))
            if interval.submitted:
                lines.append("Submitted with Enter: " + json.dumps(interval.submitted, ensure_ascii=False))
            screen = interval.screen_text()
            if screen and o.max_screen_chars:
                lines.append("Text on screen (OCR):\n" + _clip(screen, o.max_screen_chars))
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def frames_to_send(self, group: list[Interval]) -> list[tuple[Interval, FrameRef]]:
        """The frames sent as images: evenly spread over the group, always the first and last."""
        frames = [(interval, frame) for interval in group for frame in interval.frames]
        if len(frames) > self.options.max_images:
            n = self.options.max_images
            frames = [frames[round(i * (len(frames) - 1) / max(n - 1, 1))] for i in range(n)]
        return frames

    def frame_boxes(self, interval: Interval, frame: FrameRef) -> list[tuple[int, int, int, int]] | None:
        """What to black out on a frame ([] with redaction off); None: the frame must not be
        sent (redaction is on and nobody read the frame to find what to hide)."""
        if self.redactor is None or not self.frames_prepared:
            return []
        return frame_boxes(interval, frame)

    def _user_content(
        self, evidence: str, group: list[Interval], problems: list[str], sent_frames: list[Any] | None = None
    ) -> str | list[dict[str, Any]]:
        if not self.vision:
            return evidence
        content: list[dict[str, Any]] = [{"type": "text", "text": evidence}]
        for interval, frame in self.frames_to_send(group):
            boxes = self.frame_boxes(interval, frame)
            if boxes is None:
                problems.append(
                    f"{frame.path}: frame not sent to the model: it has no OCR words to find secrets in "
                    f"(interval {interval.id}; give the interval task an ocr engine, or redact: false)"
                )
                continue
            edit = (lambda image, b=boxes: blackout(image, b)) if boxes else None
            try:
                url = image_data_url(frame.path, self.options.image_max_side, edit)
            except ImageError as exc:
                problems.append(f"{exc}; sent without it")
                continue
            content.append({"type": "image_url", "image_url": {"url": url, "detail": self.options.image_detail}})
            if sent_frames is not None:
                sent_frames.append((interval, frame, boxes))
        return content


def _texts(messages: Messages) -> Iterator[str]:
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (p["text"] for p in content if p.get("type") == "text" and isinstance(p.get("text"), str))
