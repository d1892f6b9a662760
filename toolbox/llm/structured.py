"""Structured replies: a JSON schema from a pydantic model for `response_format`, and parsing a
reply back into the model with an error message the model can act on."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Parser = Callable[[str], T]  # reply text -> value; raises ReplyInvalid (or ValueError)


class ReplyInvalid(ValueError):
    """A reply that cannot be used; the message is sent back to the model when it is re-asked."""


def response_format(model: type[BaseModel]) -> dict[str, Any]:
    """`response_format` for the chat API. Not `strict`: OpenAI's strict mode rejects free-form
    objects (a function's JSON-schema parameters); servers with guided decoding still enforce it."""
    return {"type": "json_schema", "json_schema": {"name": model.__name__, "schema": model.model_json_schema()}}


# whitespace runs are taken whole (possessive): given back one character at a time, a reply of
# "```" and a long run of blank lines took time quadratic in its length
_FENCE = re.compile(r"^\s*```(?:json)?\s*+(.*?)\n?```\s*+$", re.S)


def json_text(text: str) -> Any:
    """Parse JSON, tolerating a Markdown code fence around it (small local models add one)."""
    fenced = _FENCE.match(text)
    try:
        return orjson.loads(fenced.group(1) if fenced else text)
    except orjson.JSONDecodeError as exc:
        raise ReplyInvalid(f"the reply is not valid JSON ({exc})") from None


def validation_message(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    more = f" (+{exc.error_count() - limit} more)" if exc.error_count() > limit else ""
    return "; ".join(parts) + more


def model_parser(model: type[M]) -> Parser[M]:
    """A parser that reads JSON text into `model`; model validators' errors come through too."""

    def parse(text: str) -> M:
        data = json_text(text)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ReplyInvalid(f"the JSON does not match the schema: {validation_message(exc)}") from None

    return parse
