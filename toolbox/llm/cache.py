"""Replies on disk, one file per request, keyed by a hash of the whole request body.

The body holds the model, the messages (after `prepare_messages`), the response format and
every sampling parameter, so anything that changes the request changes the key; it never
holds the API key or the endpoint address. Files are written atomically, so an interrupted
build leaves only whole entries and a rerun picks up where it stopped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from toolbox.core.io import write_atomic

CACHE_VERSION = 1


class CachedReply(BaseModel):
    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    model: str | None = None


def request_key(body: dict[str, Any]) -> str:
    canonical = orjson.dumps({"v": CACHE_VERSION, **body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class ReplyCache:
    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.folder = folder
        self.enabled = enabled

    def _file(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        if not self.enabled:
            return None
        try:
            return CachedReply.model_validate_json(self._file(key).read_bytes())
        except (OSError, ValidationError):  # missing or unreadable: ask again
            return None

    def put(self, key: str, reply: CachedReply) -> None:
        if self.enabled:
            write_atomic(self._file(key), reply.model_dump_json().encode("utf-8"))
