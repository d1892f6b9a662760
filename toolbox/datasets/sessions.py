from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from toolbox.core.config import ConfigError
from toolbox.core.dataset import Dataset, files_digest
from toolbox.core.plugin import Options
from toolbox.core.registry import register_dataset
from toolbox.core.session import Session, SessionError, find_sessions, read_session


@register_dataset("sessions")
class RecordedSessions(Dataset):
    """Recorded sessions (record.py's folders) under a path; yields Session records."""

    class Options(Options):
        path: str = "data/sessions"

    def records(self) -> Iterator[Session]:
        for shard in self.shards():
            yield from self.shard_records(shard)

    def shards(self) -> list[str]:
        """One per session folder, in name (= start time) order."""
        root = self.ctx.path(self.options.path)
        if not root.exists():
            raise ConfigError(f"datasets ({self.plugin_name}).path: no such folder: {root}")
        return [str(folder) for folder in find_sessions(root, self.ctx.stats.problem)]

    def shard_records(self, shard: str) -> Iterator[Session]:
        try:
            session = read_session(Path(shard))
        except SessionError as exc:
            self.ctx.stats.problem("sessions", f"{exc}; session skipped")
            return
        for problem in session.problems:
            self.ctx.stats.problem("event lines", problem)
        yield session

    def shard_digest(self, shard: str) -> str:
        return files_digest(Path(shard))
