from __future__ import annotations

from collections.abc import Iterator

from toolbox.core.config import ConfigError
from toolbox.core.dataset import Dataset
from toolbox.core.plugin import Options
from toolbox.core.registry import register_dataset
from toolbox.core.session import Session, SessionError, find_sessions, read_session


@register_dataset("sessions")
class RecordedSessions(Dataset):
    """Recorded sessions (record.py's folders) under a path; yields Session records."""

    class Options(Options):
        path: str = "data/sessions"

    def records(self) -> Iterator[Session]:
        root = self.ctx.path(self.options.path)
        if not root.exists():
            raise ConfigError(f"datasets ({self.plugin_name}).path: no such folder: {root}")
        for folder in find_sessions(root, self.ctx.stats.problem):
            try:
                session = read_session(folder)
            except SessionError as exc:
                self.ctx.stats.problem("sessions", f"{exc}; session skipped")
                continue
            for problem in session.problems:
                self.ctx.stats.problem("event lines", problem)
            yield session
