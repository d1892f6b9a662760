"""Redaction of a finished episode: every text a transcriber or a dataset wrote (system prompt,
turns, tool calls, tool descriptions, metadata), with one map so a placeholder names one value
across the episode. Used by the `redact` filter and by a session's redaction (session.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from pydantic import TypeAdapter

from toolbox.core.models import Episode
from toolbox.privacy.redactor import RedactionMap, Redactor

_ANY = TypeAdapter(Any)  # a metadata value as `Episode.model_dump` gives it (a model inside: a dict)


def redact_episode(
    episode: Episode,
    redactor: Redactor,
    totals: dict[str, int] | None = None,
    mapping: RedactionMap | None = None,
    redacted: frozenset[str] = frozenset(),
) -> Episode:
    """A copy of `episode` with its system prompt, turn texts, tool-call arguments (recursively),
    tool results and metadata strings redacted with one mapping. Counts per kind go to
    `metadata["redactions"]` (and are added to `totals`). Metadata keys in `redacted` hold
    text already redacted with this mapping (a session's OCR evidence: most of an episode's
    bytes); only the values the mapping knows are looked for there again."""
    mapping = mapping if mapping is not None else RedactionMap()
    before = Counter(mapping.counts)  # a shared (session) map already holds other episodes' counts
    # the metadata is not dumped with the rest: its evidence keys are JSON already (most of an
    # episode's bytes), kept as they are when they hold nothing to redact
    data = episode.model_dump(exclude={"metadata"})
    red = redactor.redact_data
    if data["system"]:
        data["system"] = red(data["system"], mapping)
    for turn in data["turns"]:
        if turn["content"]:
            turn["content"] = red(turn["content"], mapping)
        for call in turn["tool_calls"]:
            call["arguments"] = red(call["arguments"], mapping)
    for tool in data["tools"]:
        tool["description"] = red(tool["description"], mapping)
    # a known value in the JSON of the words: JSON escapes character by character, so a string
    # holding the value holds its escaped form (a false hit only costs a full pass)
    known = [orjson.dumps(value)[1:-1] for value in mapping.known()]

    def already_redacted(value: Any) -> bool:
        if not known:
            return True
        try:
            text = orjson.dumps(value)
        except TypeError:  # not JSON as it is (a model): dumped and redacted like the other keys
            return False
        return not any(v in text for v in known)

    metadata = {
        key: value if key in redacted and already_redacted(value) else red(_ANY.dump_python(value), mapping, key)
        for key, value in episode.metadata.items()
        if key != "redactions"
    }
    made = mapping.counts - before
    counts: Counter[str] = Counter(episode.metadata.get("redactions") or {})
    counts.update(made)
    metadata["redactions"] = dict(sorted(counts.items()))
    data["metadata"] = metadata
    if totals is not None:
        for kind, n in made.items():
            totals[kind] = totals.get(kind, 0) + n
    return Episode.model_validate(data)
