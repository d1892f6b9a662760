"""The body of an HTTP 200 from a chat-completions endpoint, read at the boundary.

A proxy's HTML error page, a JSON array or a `message` that is not an object is not a chat
completion: `read_completion` raises `MalformedReply`, which fails that one item. Fields that
are only informational (`usage`, `model`, `finish_reason`) are dropped when unusable instead:
a reply whose `usage` is a string is still a good reply, costed from counted tokens as when a
server sends no usage at all.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from toolbox.llm.structured import validation_message

T = TypeVar("T")
BODY_EXCERPT = 200  # characters of a malformed body quoted in the failure's detail


class MalformedReply(ValueError):
    """An HTTP 200 whose body is not a chat completion."""


def _none_if_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


OrNone = Annotated[T | None, WrapValidator(_none_if_invalid)]


class Usage(BaseModel):
    prompt_tokens: int | None = Field(None, ge=0)
    completion_tokens: int | None = Field(None, ge=0)


class Message(BaseModel):
    content: str | None = None
    refusal: OrNone[str] = None


class Choice(BaseModel):
    message: Message
    finish_reason: OrNone[str] = None


class Completion(BaseModel):
    choices: list[Choice]
    usage: OrNone[Usage] = None
    model: OrNone[str] = None

    @property
    def content(self) -> str:
        """The first choice's text, a refusal as text, or "" (which the parser then rejects)."""
        if not self.choices:
            return ""
        message = self.choices[0].message
        if not message.content and message.refusal:
            return f"(refused: {message.refusal})"
        return message.content or ""

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None


def _excerpt(body: bytes) -> str:
    return " ".join(body[: BODY_EXCERPT * 4].decode("utf-8", "replace").split())[:BODY_EXCERPT]


def read_completion(body: bytes) -> Completion:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedReply(f"the HTTP 200 body is not JSON: {_excerpt(body)!r}") from None
    if not isinstance(data, dict):
        raise MalformedReply(f"the HTTP 200 body is JSON but not an object: {_excerpt(body)!r}")
    try:
        return Completion.model_validate(data)
    except ValidationError as exc:
        raise MalformedReply(
            f"the HTTP 200 body is not a chat completion ({validation_message(exc)}): {_excerpt(body)!r}"
        ) from None
