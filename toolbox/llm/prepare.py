"""The one seam every request's text passes through right before it is sent (and hashed for
the cache): redaction plugs in here.

A `MessageHook` takes the chat messages (OpenAI shape: role + content string or content parts)
and returns the messages to send. Each `LLMClient` is given its own (`prepare=`); without one
the messages go as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Messages = list[dict[str, Any]]
MessageHook = Callable[[Messages], Messages]


def map_text(messages: Messages, func: Callable[[str], str]) -> Messages:
    """A copy of `messages` with `func` applied to every piece of text (string contents and
    text parts); image parts are left alone. A redactor can be `lambda m: map_text(m, redact)`."""
    out: Messages = []
    for message in messages:
        copy = dict(message)
        content = message.get("content")
        if isinstance(content, str):
            copy["content"] = func(content)
        elif isinstance(content, list):
            copy["content"] = [
                {**part, "text": func(part["text"])}
                if part.get("type") == "text" and isinstance(part.get("text"), str)
                else part
                for part in content
            ]
        out.append(copy)
    return out
