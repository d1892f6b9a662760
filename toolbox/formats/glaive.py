"""Glaive function calling v2: a `system` text listing the functions and a `chat` text of
USER / ASSISTANT / FUNCTION RESPONSE turns."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson

from toolbox.core.format import Format, FormatError, parse_json, trained_turns
from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn
from toolbox.core.registry import register_format

WITH_FUNCTIONS = "SYSTEM: You are a helpful assistant with access to the following functions. Use them if required -"
NO_FUNCTIONS = "SYSTEM: You are a helpful assistant, with no access to external functions."
SEPARATOR = "\n\n\n"
EOT = " <|endoftext|>"
PREFIXES = ("USER: ", "ASSISTANT: ", "FUNCTION RESPONSE: ")
# real-world rows also use two newlines between turns
TURN_SPLIT = re.compile(r"\n{2,}(?=(?:USER|ASSISTANT|FUNCTION RESPONSE):)")
EMBEDDED_TURN = re.compile(r"\n(?:USER|ASSISTANT|FUNCTION RESPONSE): ")
CALL_RE = re.compile(r"^<functioncall>\s*(\{.*\})\s*(?:<\|endoftext\|>)?\s*$", re.S)
CANONICAL_CALL = re.compile(r"^<functioncall> \{\"name\": \"[^\"]+\", \"arguments\": '(.*)'\} <\|endoftext\|>$", re.S)
CALL_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')
CALL_ARGUMENTS = re.compile(r'"arguments"\s*:\s*')


@register_format("glaive")
class GlaiveFormat(Format):
    """Glaive function-calling v2: system + chat text with <functioncall> turns."""

    def encode(self, episode: Episode) -> dict[str, Any]:
        system = self.rendered_tools(episode.tools, glaive_system)
        turns = trained_turns(episode)
        results = {t.tool_call_id: t for t in turns if t.role == "tool" and t.tool_call_id}
        answered: set[str] = set()
        chat: list[str] = []
        for turn in turns:
            if turn.role == "user":
                chat.append(f"USER: {turn.content or ''}")
            elif turn.role == "assistant":
                if turn.content:
                    chat.append(f"ASSISTANT: {turn.content}{EOT}")
                for call in turn.tool_calls:
                    arguments = json.dumps(call.arguments, ensure_ascii=False)
                    chat.append(
                        f'ASSISTANT: <functioncall> {{"name": {orjson.dumps(call.name).decode()}, "arguments": \'{arguments}\'}}{EOT}'
                    )
                    if call.id in results:
                        chat.append(f"FUNCTION RESPONSE: {results[call.id].content or ''}")
                        answered.add(call.id)
            elif turn.tool_call_id not in answered:
                chat.append(f"FUNCTION RESPONSE: {turn.content or ''}")
        if not chat or not chat[0].startswith("USER: "):
            raise FormatError("glaive chat must start with a USER turn")
        return {"system": system, "chat": SEPARATOR.join(chat)}

    def decode(self, row: dict[str, Any], episode_id: str, source: Source) -> Episode:
        if not isinstance(row, dict) or not isinstance(row.get("chat"), str):
            raise FormatError("row has no 'chat' text")
        tools = self.decoded_tools(row.get("system") or "", tool_specs)
        turns: list[Turn] = []
        last_call: ToolCall | None = None
        for number, raw in enumerate(TURN_SPLIT.split(row["chat"].strip())):
            text = raw.strip()
            if not text:
                continue
            if text.startswith("USER:"):
                turns.append(Turn(role="user", content=text[5:].strip()))
            elif text.startswith("ASSISTANT:"):
                body = _strip_eot(text[10:].strip())
                if body.startswith("<functioncall>"):
                    name, arguments = parse_call(body)
                    last_call = ToolCall(id=f"call_{number}", name=name, arguments=arguments)
                    turns.append(Turn(role="assistant", tool_calls=[last_call]))
                else:
                    turns.append(Turn(role="assistant", content=body))
            elif text.startswith("FUNCTION RESPONSE:"):
                turns.append(
                    Turn(
                        role="tool",
                        content=text[18:].strip(),
                        tool_call_id=last_call.id if last_call else None,
                        name=last_call.name if last_call else None,
                    )
                )
            else:
                raise FormatError(
                    f"turn {number} starts with neither USER, ASSISTANT nor FUNCTION RESPONSE: {text[:40]!r}"
                )
        if not turns:
            raise FormatError("empty chat")
        return Episode(id=episode_id, tools=tools, turns=turns, source=source)

    def validate(self, row: Any) -> list[str]:
        if not isinstance(row, dict):
            return ["row is not a JSON object"]
        errors: list[str] = []
        system, chat = row.get("system"), row.get("chat")
        if not isinstance(system, str):
            errors.append("'system' must be a string")
        else:
            errors.extend(_system_errors(system))
        if not isinstance(chat, str) or not chat.strip():
            return errors + ["'chat' must be a non-empty string"]
        turns = chat[: -len(SEPARATOR)].split(SEPARATOR) if chat.endswith(SEPARATOR) else chat.split(SEPARATOR)
        for i, turn in enumerate(turns):
            where = f"chat turn {i}"
            if not turn.startswith(PREFIXES):
                errors.append(
                    f"{where}: must start with 'USER: ', 'ASSISTANT: ' or 'FUNCTION RESPONSE: ' (turns are separated by three newlines)"
                )
                continue
            if EMBEDDED_TURN.search(turn):
                errors.append(f"{where}: holds another turn; turns are separated by three newlines")
            if i == 0 and not turn.startswith("USER: "):
                errors.append(f"{where}: the chat must start with a USER turn")
            if turn.startswith("ASSISTANT: "):
                if not turn.endswith(EOT):
                    errors.append(f"{where}: assistant turn must end with ' <|endoftext|>'")
                body = turn[len("ASSISTANT: ") :]
                if body.startswith("<functioncall>"):
                    canonical = CANONICAL_CALL.match(body)
                    if not canonical:
                        errors.append(
                            f'{where}: call must be <functioncall> {{"name": "f", "arguments": \'{{...}}\'}} <|endoftext|>'
                        )
                    else:
                        try:
                            call_arguments(canonical.group(1))  # what parse_call would find in the canonical form
                        except FormatError as exc:
                            errors.append(f"{where}: {exc}")
        return errors


@lru_cache(maxsize=256)  # the rows of a build share a few system texts
def _system_errors(system: str) -> tuple[str, ...]:
    if system.startswith(WITH_FUNCTIONS):
        try:
            return () if parse_functions(system) else ("system lists no functions",)
        except FormatError as exc:
            return (str(exc),)
    if system.strip() != NO_FUNCTIONS:
        return ("system must start with the glaive function header or be the no-functions line",)
    return ()


def glaive_system(tools: Sequence[ToolSpec]) -> str:
    if not tools:
        return NO_FUNCTIONS
    return (
        WITH_FUNCTIONS
        + "\n"
        + "\n\n".join(json.dumps(spec.model_dump(), indent=4, ensure_ascii=False) for spec in tools)
    )


def tool_specs(system: str) -> list[ToolSpec]:
    return [
        ToolSpec(
            name=f["name"],
            description=f.get("description", ""),
            parameters=f.get("parameters") or {"type": "object", "properties": {}},
        )
        for f in parse_functions(system)
    ]


def _strip_eot(text: str) -> str:
    return text[: -len("<|endoftext|>")].rstrip() if text.endswith("<|endoftext|>") else text


def parse_call(body: str) -> tuple[str, dict[str, Any]]:
    """Name and arguments of a `<functioncall> {...}` turn: arguments as JSON text in single
    quotes (the canonical form) or as a bare object (a real-world variant)."""
    match = CALL_RE.match(body)
    if not match:
        raise FormatError("unparseable <functioncall>")
    payload = match.group(1)
    name = CALL_NAME.search(payload)
    if not name:
        raise FormatError("<functioncall> without a name")
    arg_pos = CALL_ARGUMENTS.search(payload)
    if not arg_pos:
        return name.group(1), {}
    rest = payload[arg_pos.end() :].rstrip()
    rest = rest[:-1].rstrip() if rest.endswith("}") else rest  # the closing brace of the call
    if rest.startswith("'"):
        rest = rest[1 : rest.rindex("'")] if rest.count("'") >= 2 else rest[1:]
    return name.group(1), call_arguments(rest)


def call_arguments(text: str) -> dict[str, Any]:
    """A call's arguments from their JSON text: an object (or a JSON string holding one)."""
    try:
        arguments = parse_json(text) if text.strip() else {}
    except ValueError as exc:
        raise FormatError(f"<functioncall> arguments are not JSON ({exc})") from exc
    if isinstance(arguments, str):  # arguments double-encoded as a JSON string
        arguments = parse_json(arguments)
    if not isinstance(arguments, dict):
        raise FormatError("<functioncall> arguments are not an object")
    return arguments


def parse_functions(system: str) -> list[dict[str, Any]]:
    """The function specs listed after the glaive system header (none for other systems)."""
    if not system.startswith(WITH_FUNCTIONS):
        return []
    text = system[len(WITH_FUNCTIONS) :]
    decoder = json.JSONDecoder()
    specs: list[dict[str, Any]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return specs
        try:
            spec, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            raise FormatError(f"system: function {len(specs) + 1} is not JSON ({exc})") from exc
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise FormatError(f"system: function {len(specs) + 1} has no name")
        specs.append(spec)
