"""Replies on disk, one file per request, keyed by a hash of the whole request body.

The body holds the model, the messages (after `prepare_messages`), the response format and
every sampling parameter, so anything that changes the request changes the key; it never
holds the API key or the endpoint address. Files are written atomically, so an interrupted
build leaves only whole entries and a rerun picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from toolbox.core.io import private_dir, write_atomic

log = logging.getLogger("datamakr")

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
        self._private_dirs: set[Path] = set()
        self._broken = False  # a write failed: the rest of the build does not try again

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
        """Keep a reply (0600 in 0700 folders: replies hold screen text). A cache that cannot be
        written (a full disk) is warned about once; the reply is still used."""
        if not self.enabled or self._broken:
            return
        file = self._file(key)
        try:
            if file.parent not in self._private_dirs:
                private_dir(self.folder)
                private_dir(file.parent)
                self._private_dirs.add(file.parent)
            write_atomic(file, reply.model_dump_json().encode("utf-8"))
        except OSError as exc:
            self._broken = True
            log.warning(
                "%s: cannot write the LLM cache (%s); replies are used but not cached for the next build",
                exc.filename or file.parent,
                exc.strerror or exc,
            )
