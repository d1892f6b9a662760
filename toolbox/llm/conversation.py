"""The conversation an LLM writes (for the `openai` transcriber and the `synthetic` dataset):
the user's request, goal-level function calls with their responses, and the final answer.

Validation here is what makes a reply usable: a function name the formats accept, parameters
that are a JSON schema of an object, and arguments that match them. A reply that fails is
re-asked with the error.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class FunctionReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="goal-level function name in snake_case, e.g. search_wandb_training_run")
    description: str = Field(description="one sentence: what the function does")
    parameters: dict[str, Any] = Field(
        description='JSON schema of the arguments: {"type": "object", "properties": {...}, "required": [...]}'
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FUNCTION_NAME.match(value):
            raise ValueError(f"function name {value!r} must match ^[a-zA-Z0-9_-]{{1,64}}$ (use snake_case)")
        return value

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('parameters must be a JSON schema with "type": "object"')
        import jsonschema  # the `llm` extra: imported where replies are checked

        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"parameters is not a valid JSON schema: {exc.message}") from None
        return value


def _check_arguments(function: FunctionReply, arguments: dict[str, Any]) -> None:
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(function.parameters).iter_errors(arguments), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise ValueError(f"arguments of {function.name} do not match its parameters: {where}: {errors[0].message}")


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    function: FunctionReply
    arguments: dict[str, Any] = Field(description="the call's arguments, matching function.parameters")
    response: str = Field(description="what the function returned, grounded in the text on screen")

    @model_validator(mode="after")
    def _arguments_match(self) -> Step:
        _check_arguments(self.function, self.arguments)
        return self


class ReasonedStep(BaseModel):
    """A step with the inner monologue before the call. Not a subclass of Step: a subclass
    would list its fields after Step's, and the JSON schema must ask for the observation and
    thought before the call, so the model reasons first."""

    model_config = ConfigDict(extra="forbid")
    observation: str = Field(description="one sentence: what is on screen / known before this call")
    thought: str = Field(description="one sentence: why this call comes next")
    function: FunctionReply
    arguments: dict[str, Any] = Field(description="the call's arguments, matching function.parameters")
    response: str = Field(description="what the function returned, grounded in the text on screen")

    @model_validator(mode="after")
    def _arguments_match(self) -> ReasonedStep:
        _check_arguments(self.function, self.arguments)
        return self


def _one_spec_per_name(steps: list[Step] | list[ReasonedStep]) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for step in steps:
        if seen.setdefault(step.function.name, step.function.parameters) != step.function.parameters:
            raise ValueError(f"function {step.function.name} is declared twice with different parameters")


class Conversation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_request: str = Field(min_length=1, description="the request as the user would have phrased it to an assistant")
    steps: list[Step] = Field(min_length=1)
    final_answer: str = Field(min_length=1, description="the assistant's final answer to the user")

    @model_validator(mode="after")
    def _specs(self) -> Conversation:
        _one_spec_per_name(self.steps)
        return self


class ReasonedConversation(Conversation):
    steps: list[ReasonedStep] = Field(min_length=1)  # type: ignore[assignment]


def conversation_model(reasoning: bool) -> type[Conversation]:
    return ReasonedConversation if reasoning else Conversation


def to_episode(
    reply: Conversation | ReasonedConversation,
    episode_id: str,
    source: Source,
    system: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Episode:
    """user request -> (thought + call, tool response)* -> final answer."""
    tools: dict[str, ToolSpec] = {}
    turns = [Turn(role="user", content=reply.user_request)]
    for i, step in enumerate(reply.steps):
        fn = step.function
        tools.setdefault(fn.name, ToolSpec(name=fn.name, description=fn.description, parameters=fn.parameters))
        call_id = f"call_{i}"
        thought = f"{step.observation} {step.thought}".strip() if isinstance(step, ReasonedStep) else None
        turns.append(
            Turn(
                role="assistant",
                content=thought or None,
                tool_calls=[ToolCall(id=call_id, name=fn.name, arguments=step.arguments)],
            )
        )
        turns.append(Turn(role="tool", tool_call_id=call_id, name=fn.name, content=step.response))
    turns.append(Turn(role="assistant", content=reply.final_answer))
    meta = dict(metadata or {})
    if isinstance(reply, ReasonedConversation):
        meta["reasoning"] = [{"observation": s.observation, "thought": s.thought} for s in reply.steps]
    return Episode(id=episode_id, system=system, tools=list(tools.values()), turns=turns, source=source, metadata=meta)
