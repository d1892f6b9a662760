"""OpenAI chat fine-tuning JSONL: {"messages": [...], "tools": [...]}."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from toolbox.core.format import Format, FormatError, parse_json
from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn
from toolbox.core.registry import register_format

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ROLES = {"system", "user", "assistant", "tool"}


@register_format("openai")
class OpenAIFormat(Format):
    """OpenAI chat fine-tuning JSONL with tools and tool_calls."""

    def encode(self, episode: Episode) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if episode.system:
            messages.append({"role": "system", "content": episode.system})
        for turn in episode.turns:
            if turn.role == "user":
                messages.append({"role": "user", "content": turn.content or ""})
            elif turn.role == "tool":
                messages.append(
                    {"role": "tool", "tool_call_id": turn.tool_call_id or "", "content": turn.content or ""}
                )
            else:
                # a message that only calls tools has `"content": null`, as the API writes it (and
                # LLaMA-Factory's openai converter reads `content` from every message)
                content = turn.content or (None if turn.tool_calls else "")
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if turn.tool_calls:
                    message["tool_calls"] = [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()},
                        }
                        for call in turn.tool_calls
                    ]
                if turn.weight is not None:
                    message["weight"] = turn.weight
                messages.append(message)
        row: dict[str, Any] = {"messages": messages}
        if episode.tools:
            row["tools"] = self.rendered_tools(
                episode.tools, lambda tools: [{"type": "function", "function": spec.model_dump()} for spec in tools]
            )
        return row

    def llamafactory_dataset(self, file_name: str, columns: set[str]) -> dict[str, Any]:
        return {
            "file_name": file_name,
            "formatting": "openai",
            "columns": {"messages": "messages", **({"tools": "tools"} if "tools" in columns else {})},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "observation_tag": "tool",
                "system_tag": "system",
            },
        }

    def axolotl_dataset(self, path: str) -> dict[str, Any]:
        return {
            "path": path,
            "ds_type": "json",
            "type": "chat_template",
            "field_messages": "messages",
            "field_tools": "tools",
            "message_property_mappings": {"role": "role", "content": "content"},
            "roles_to_train": ["assistant"],
        }

    def decode(self, row: dict[str, Any], episode_id: str, source: Source) -> Episode:
        problems = self.validate(row)
        if problems:
            raise FormatError(problems[0])
        system = None
        turns: list[Turn] = []
        names: dict[str, str] = {}
        for message in row["messages"]:
            role = message["role"]
            if role == "system" and not turns and system is None:
                system = message.get("content") or ""
            elif role == "system":
                turns.append(Turn(role="user", content=message.get("content") or ""))
            elif role == "assistant":
                calls = []
                for call in message.get("tool_calls") or []:
                    fn = call["function"]
                    calls.append(ToolCall(id=call["id"], name=fn["name"], arguments=json.loads(fn["arguments"])))
                    names[call["id"]] = fn["name"]
                turns.append(
                    Turn(
                        role="assistant", content=message.get("content"), tool_calls=calls, weight=message.get("weight")
                    )
                )
            elif role == "tool":
                turns.append(
                    Turn(
                        role="tool",
                        content=_text(message.get("content")),
                        tool_call_id=message["tool_call_id"],
                        name=names.get(message["tool_call_id"]),
                    )
                )
            else:
                turns.append(Turn(role="user", content=_text(message.get("content"))))
        tools = [ToolSpec(**_spec(t["function"])) for t in row.get("tools") or []]
        return Episode(id=episode_id, system=system, tools=tools, turns=turns, source=source)

    def validate(self, row: Any) -> list[str]:
        errors: list[str] = []
        if not isinstance(row, dict):
            return ["row is not a JSON object"]
        unknown = set(row) - {"messages", "tools", "parallel_tool_calls", "functions"}
        if unknown:
            errors.append(f"unknown top-level keys: {sorted(unknown)}")
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            return errors + ["'messages' must be a non-empty list"]
        tools = row.get("tools", [])
        if not isinstance(tools, list):
            errors.append("'tools' must be a list")
            tools = []
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
                errors.append(f"tools[{i}]: must be {{'type': 'function', 'function': {{...}}}}")
            elif not isinstance(fn.get("name"), str) or not NAME_RE.match(fn["name"]):
                errors.append(f"tools[{i}]: invalid function name {fn.get('name')!r}")
        if "parallel_tool_calls" in row and not isinstance(row["parallel_tool_calls"], bool):
            errors.append("'parallel_tool_calls' must be a boolean")
        open_calls: set[str] = set()  # ids of calls that tool messages may still answer
        has_assistant = False
        for i, message in enumerate(messages):  # (messages[i] is spelt out only for an error: most rows have none)
            if not isinstance(message, dict):
                errors.append(f"messages[{i}]: not an object")
                continue
            role = message.get("role")
            if role not in ROLES:
                errors.append(f"messages[{i}]: unknown role {role!r}")
                continue
            if "weight" in message and (role != "assistant" or message["weight"] not in (0, 1)):
                errors.append(f"messages[{i}]: 'weight' must be 0 or 1 and only on assistant messages")
            if role in ("system", "user"):
                open_calls = set()
                if not isinstance(message.get("content"), str):
                    errors.append(f"messages[{i}]: {role} message needs string content")
            elif role == "assistant":
                has_assistant = True
                calls = message.get("tool_calls")
                content = message.get("content")
                if calls is None and not isinstance(content, str):
                    errors.append(f"messages[{i}]: assistant message needs content or tool_calls")
                if content is not None and not isinstance(content, str):
                    errors.append(f"messages[{i}]: assistant content must be a string")
                open_calls = set()
                if calls is not None:
                    if not isinstance(calls, list) or not calls:
                        errors.append(f"messages[{i}]: tool_calls must be a non-empty list")
                        continue
                    for j, call in enumerate(calls):
                        problems = _check_call(call)
                        errors.extend(f"messages[{i}].tool_calls[{j}]: {problem}" for problem in problems)
                        if isinstance(call, dict) and isinstance(call.get("id"), str):
                            open_calls.add(call["id"])
            else:  # tool
                call_id = message.get("tool_call_id")
                if call_id not in open_calls:
                    errors.append(f"messages[{i}]: tool_call_id {call_id!r} does not match a call just before it")
                if not isinstance(message.get("content"), str):
                    errors.append(f"messages[{i}]: tool message needs string content")
        if not has_assistant:
            errors.append("no assistant message")
        return errors


def _check_call(call: Any) -> list[str]:
    if not isinstance(call, dict):
        return ["not an object"]
    errors = []
    if not isinstance(call.get("id"), str) or not call["id"]:
        errors.append("missing id")
    if call.get("type") != "function":
        errors.append("type must be 'function'")
    fn = call.get("function")
    if not isinstance(fn, dict):
        return errors + ["missing function"]
    if not isinstance(fn.get("name"), str) or not NAME_RE.match(fn["name"]):
        errors.append(f"invalid function name {fn.get('name')!r}")
    try:
        if not isinstance(fn.get("arguments"), str) or not isinstance(parse_json(fn["arguments"]), dict):
            raise ValueError
    except ValueError:
        errors.append("arguments must be the JSON text of an object")
    return errors


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _spec(fn: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": fn["name"],
        "description": fn.get("description", ""),
        "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
    }
