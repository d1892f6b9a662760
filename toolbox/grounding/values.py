"""What of an episode must be traced to the evidence (the rule, also in docs/architecture.md):

- every leaf value of a call's arguments: strings, and numbers of two digits or more. Not checked:
  booleans, nulls, one-digit numbers (any screen holds every digit) and values the function's own
  parameter schema lists in an `enum` (its vocabulary, not a fact). A string of more than
  `MAX_VALUE_WORDS` words or `MAX_VALUE_CHARS` characters is free text: its fact-like tokens are
  checked instead;
- every leaf value of a function response that is JSON; the fact-like tokens of one that is text;
- the fact-like tokens of the final answer.

Fact-like tokens of free text: quoted strings ("...", '...', `...`, “...”, up to 80 characters,
whole); words with a digit, unless it is a lone digit (numbers, ids, dates, times, versions:
`1,234.5`, `run-42`, `2026-05-02`, `14:30`, `v2`); words shaped like identifiers (an e-mail or
URL, a path, `snake_case`, `file.txt`, `camelCase`); and names: capitalized words that do not begin
a sentence (runs of them are one name: "Dana Whitfield"). The user's request and the reasoning
before a call are not checked: they say what is wanted, not what was found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from toolbox.core.models import Episode

MAX_VALUE_WORDS = 8
MAX_VALUE_CHARS = 80
_QUOTED = re.compile(
    r"""(?:(?<![\w])"([^"\n]{1,80})"(?![\w]))|(?:(?<![\w])'([^'\n]{1,80})'(?![\w]))|`([^`\n]{1,80})`|“([^”\n]{1,80})”"""
)
_EDGE = "\"'“”‘’«»()[]{}<>*.,;:!?"
_SENTENCE_END = re.compile(r"[.!?:]$")
_BULLET = re.compile(r"^(?:[-*•–]|\d+[.)])$")
_IDENTIFIER = re.compile(r"@|://|\w/\w|_|[a-z]\.[a-z]|[a-z][A-Z]")
_NOT_NAMES = {"i'm", "i've", "i'll", "i'd", "ok", "okay"}


@dataclass(frozen=True)
class Value:
    text: str  # as written in the episode
    where: str  # "call 1 search_runs.model_name", "response 1 (search_runs)", "final answer"


def episode_values(episode: Episode) -> list[Value]:
    """The values of `episode` that must be found in the evidence, in order."""
    specs = {tool.name: tool.parameters for tool in episode.tools}
    values: list[Value] = []
    number = 0
    for turn in episode.turns:
        if turn.role == "assistant":
            for call in turn.tool_calls:
                number += 1
                where = f"call {number} {call.name}"
                values.extend(_leaves(call.arguments, specs.get(call.name, {}), where))
        elif turn.role == "tool" and turn.content:
            where = f"response {number} ({turn.name})" if turn.name else f"response {number}"
            values.extend(_response_values(turn.content, where))
    final = episode.turns[-1] if episode.turns else None
    if final is not None and final.role == "assistant" and not final.tool_calls and final.content:
        values.extend(Value(text, "final answer") for text in fact_tokens(final.content))
    return values


def _response_values(content: str, where: str) -> list[Value]:
    if content.lstrip()[:1] in ("{", "["):
        try:
            return list(_leaves(json.loads(content), {}, where))
        except ValueError:
            pass
    return [Value(text, where) for text in fact_tokens(content)]


def _leaves(value: Any, schema: Any, where: str) -> Iterator[Value]:
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, item in value.items():
            yield from _leaves(item, properties.get(key, {}), f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, schema.get("items", {}), f"{where}[{i}]")
    elif isinstance(value, bool) or value is None or value in (schema.get("enum") or ()):
        return
    elif isinstance(value, (int, float)):
        text = str(int(value)) if float(value).is_integer() else repr(value)
        if sum(c.isdigit() for c in text) >= 2:
            yield Value(text, where)
    elif isinstance(value, str) and any(c.isalnum() for c in value):
        if len(value) > MAX_VALUE_CHARS or len(value.split()) > MAX_VALUE_WORDS:
            yield from (Value(text, where) for text in fact_tokens(value))
        else:
            yield Value(value.strip(), where)


def fact_tokens(text: str) -> list[str]:
    """The fact-like tokens of free text (the rule in this module's docstring), in order."""
    found: list[tuple[int, str]] = []

    def quoted(match: re.Match[str]) -> str:
        inner = next(g for g in match.groups() if g is not None)
        if any(c.isalnum() for c in inner):
            found.append((match.start(), inner.strip()))
        return " " * len(match.group(0))

    rest = _QUOTED.sub(quoted, text)
    name: list[str] = []
    name_at = 0

    def end_name() -> None:
        if name:
            found.append((name_at, " ".join(name)))
            name.clear()

    for line in re.finditer(r"[^\n]+", rest):
        sentence_start = True
        for match in re.finditer(r"\S+", line.group(0)):
            raw = match.group(0)
            word = raw.strip(_EDGE)
            at = line.start() + match.start()
            if _is_name(word, sentence_start):
                if not name:
                    name_at = at
                name.append(word)
                if raw[-1] in ",;:.!?)":
                    end_name()
            else:
                end_name()
                if _fact_like(word):
                    found.append((at, word))
            sentence_start = bool(_SENTENCE_END.search(raw) or _BULLET.match(raw))
        end_name()
    return [token for _, token in sorted(found, key=lambda item: item[0])]


def _is_name(word: str, sentence_start: bool) -> bool:
    return (
        not sentence_start
        and bool(word)
        and word[0].isupper()
        and any(c.islower() for c in word)
        and word.casefold() not in _NOT_NAMES
    )


def _fact_like(word: str) -> bool:
    if not word or not any(c.isalnum() for c in word):
        return False
    digit_count = sum(c.isdigit() for c in word)
    if digit_count:
        return digit_count >= 2 or any(c.isalpha() for c in word)
    return bool(_IDENTIFIER.search(word))
