"""The one seam every request's text passes through right before it is sent (and hashed for
the cache): redaction plugs in here.

A hook takes the chat messages (OpenAI shape: role + content string or content parts) and
returns the messages to send. Hooks run in registration order; none are registered by default
(identity). A client can also be given its own `prepare_messages` callable.
"""
from __future__ import annotations

from typing import Any, Callable

Messages = list[dict[str, Any]]
MessageHook = Callable[[Messages], Messages]

MESSAGE_HOOKS: list[MessageHook] = []


def register_message_hook(hook: MessageHook) -> MessageHook:
    """Run `hook` on the messages of every LLM request (e.g. the privacy redactor)."""
    if hook not in MESSAGE_HOOKS:
        MESSAGE_HOOKS.append(hook)
    return hook


def prepare_messages(messages: Messages) -> Messages:
    for hook in MESSAGE_HOOKS:
        messages = hook(messages)
    return messages


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
                {**part, "text": func(part["text"])} if part.get("type") == "text" and isinstance(part.get("text"), str) else part
                for part in content
            ]
        out.append(copy)
    return out
