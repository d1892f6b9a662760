"""The episode: what tasks make, filters see and formats write (DESIGN.md, "Episode").

An episode carries everything any output format needs, so every format is a pure function of it.
"""
from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ToolSpec(BaseModel):
    """A function the assistant may call, with JSON-schema parameters."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Turn(BaseModel):
    """One message. `assistant` turns may hold text, calls or both (text = thought before calls);
    `tool` turns answer the call named by `tool_call_id`."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None  # the function a tool turn answers
    weight: Literal[0, 1] | None = None  # training weight, assistant turns only


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str
    session: str | None = None
    interval: tuple[float, float] | None = None
    path: str | None = None
    line: int | None = None


class Episode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    system: str | None = None
    tools: list[ToolSpec] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    source: Source
    metadata: dict[str, Any] = Field(default_factory=dict)

    def text(self) -> str:
        """All the text of the conversation, in order (used by dedupe and quality checks)."""
        parts: list[str] = []
        for turn in self.turns:
            if turn.content:
                parts.append(turn.content)
            for call in turn.tool_calls:
                parts.append(call.name)
                parts.extend(str(v) for v in call.arguments.values())
        return "\n".join(parts)

    def tool_call_count(self) -> int:
        return sum(len(t.tool_calls) for t in self.turns)


def stable_id(*parts: object) -> str:
    """A short id that depends only on its parts, so reruns give the same ids."""
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:16]


__all__ = ["Episode", "Source", "ToolCall", "ToolSpec", "Turn", "stable_id"]
