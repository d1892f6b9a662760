"""ShareGPT, LLaMA-Factory flavour: `conversations` of {from, value} with function_call and
observation turns, plus optional `system` and `tools` (JSON text of a list of specs)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import orjson

from toolbox.core.format import Format, FormatError, parse_json, trained_turns
from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn
from toolbox.core.registry import register_format

EVEN = ("human", "observation")
ODD = ("gpt", "function_call")


@register_format("sharegpt")
class ShareGPTFormat(Format):
    """ShareGPT (LLaMA-Factory): human/gpt/function_call/observation turns and a tools column."""

    def encode(self, episode: Episode) -> dict[str, Any]:
        conv: list[dict[str, str]] = []

        def add(kind: str, value: str) -> None:
            if conv and conv[-1]["from"] == kind and kind in ("human", "gpt"):
                conv[-1]["value"] += "\n\n" + value  # consecutive texts of one side merge
            elif conv and conv[-1]["from"] == "gpt" and kind == "function_call":
                conv[-1] = {"from": kind, "value": value}  # a thought before a call has no slot here
            else:
                conv.append({"from": kind, "value": value})

        results: list[str] = []
        for turn in trained_turns(episode):
            if turn.role == "tool":
                results.append(turn.content or "")
                continue
            if results:
                add("observation", _join_results(results))
                results = []
            if turn.role == "user":
                add("human", turn.content or "")
            elif turn.tool_calls:
                calls = [{"name": c.name, "arguments": c.arguments} for c in turn.tool_calls]
                add("function_call", orjson.dumps(calls[0] if len(calls) == 1 else calls).decode())
            else:
                add("gpt", turn.content or "")
        if results:
            add("observation", _join_results(results))
        for i, message in enumerate(conv):
            if message["from"] not in (EVEN if i % 2 == 0 else ODD):
                raise FormatError(
                    f"turn {i} is {message['from']!r}; sharegpt needs human/observation then gpt/function_call alternating"
                )
        if len(conv) % 2:
            raise FormatError(
                f"conversation ends with {conv[-1]['from']!r}; sharegpt needs a final gpt or function_call turn"
            )
        row: dict[str, Any] = {"conversations": conv}
        if episode.system:
            row["system"] = episode.system
        if episode.tools:
            row["tools"] = self.rendered_tools(
                episode.tools, lambda tools: json.dumps([spec.model_dump() for spec in tools], ensure_ascii=False)
            )
        return row

    def llamafactory_dataset(self, file_name: str, columns: set[str]) -> dict[str, Any]:
        optional = {name: name for name in ("system", "tools") if name in columns}
        return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "conversations", **optional}}

    def decode(self, row: dict[str, Any], episode_id: str, source: Source) -> Episode:
        problems = self.validate(row)
        if problems:
            raise FormatError(problems[0])
        conv = row["conversations"]
        system = row.get("system")
        if conv and conv[0]["from"] == "system":
            system, conv = conv[0]["value"], conv[1:]
        turns: list[Turn] = []
        pending: list[ToolCall] = []
        for message in conv:
            kind, value = message["from"], message["value"]
            if kind == "human":
                turns.append(Turn(role="user", content=value))
            elif kind == "gpt":
                turns.append(Turn(role="assistant", content=value))
            elif kind == "function_call":
                data = json.loads(value)
                items = data if isinstance(data, list) else [data]
                pending = [
                    ToolCall(id=f"call_{len(turns)}_{k}", name=c["name"], arguments=c.get("arguments") or {})
                    for k, c in enumerate(items)
                ]
                turns.append(Turn(role="assistant", tool_calls=pending))
            else:  # observation
                outputs = _split_results(value, len(pending))
                for call, output in zip(pending or [None], outputs):
                    turns.append(
                        Turn(
                            role="tool",
                            content=output,
                            tool_call_id=call.id if call else None,
                            name=call.name if call else None,
                        )
                    )
        tools = [
            ToolSpec(
                name=t["name"],
                description=t.get("description", ""),
                parameters=t.get("parameters") or {"type": "object", "properties": {}},
            )
            for t in json.loads(row.get("tools") or "[]")
        ]
        return Episode(id=episode_id, system=system, tools=tools, turns=turns, source=source)

    def validate(self, row: Any) -> list[str]:
        if not isinstance(row, dict):
            return ["row is not a JSON object"]
        errors: list[str] = []
        conv = row.get("conversations")
        if not isinstance(conv, list) or not conv:
            return ["'conversations' must be a non-empty list"]
        if "system" in row and not isinstance(row["system"], str):
            errors.append("'system' must be a string")
        if "tools" in row and not (isinstance(row["tools"], str) and _tools_text_valid(row["tools"])):
            errors.append("'tools' must be the JSON text of a list of function specs")
        start = 1 if isinstance(conv[0], dict) and conv[0].get("from") == "system" else 0
        body = conv[start:]
        for i, message in enumerate(body):  # (the place is spelt out only for an error: most rows have none)
            if not isinstance(message, dict) or not isinstance(message.get("value"), str):
                errors.append(f"conversations[{i + start}]: must be {{from, value}} with a string value")
                continue
            allowed = EVEN if i % 2 == 0 else ODD
            if message.get("from") not in allowed:
                errors.append(
                    f"conversations[{i + start}]: 'from' is {message.get('from')!r}, expected one of {allowed}"
                )
            if message.get("from") == "function_call":
                errors.extend(f"conversations[{i + start}]: {e}" for e in _check_call_value(message["value"]))
        if not body or len(body) % 2:
            errors.append(f"{len(body)} turns after the system turn; the count must be even and positive")
        return errors


@lru_cache(maxsize=256)  # the rows of a build share one tool list, rendered once (a single string)
def _tools_text_valid(text: str) -> bool:
    try:
        tools = parse_json(text)
    except ValueError:
        return False
    return isinstance(tools, list) and all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools)


def _check_call_value(value: str) -> list[str]:
    try:
        data = parse_json(value)
    except ValueError:
        return ["function_call value is not JSON"]
    items = data if isinstance(data, list) else [data]
    for item in items:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("arguments"), dict)
        ):
            return ['function_call value must be {"name": str, "arguments": {object}} or a list of them']
    return []


def _join_results(results: list[str]) -> str:
    return results[0] if len(results) == 1 else json.dumps(results, ensure_ascii=False)


def _split_results(value: str, calls: int) -> list[str]:
    if calls > 1:
        try:
            data = json.loads(value)
            if isinstance(data, list) and len(data) == calls and all(isinstance(x, str) for x in data):
                return data
        except ValueError:
            pass
    return [value]
