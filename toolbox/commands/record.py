"""`datamakr record`: the recorder (record.py) as a subcommand."""

from __future__ import annotations

import importlib.util
import sys

from toolbox.core.registry import register_command

NEEDS = ("pynput", "mss")  # what the `record` extra installs and the recorder cannot start without


@register_command("record")
def record_command(argv: list[str]) -> int:
    """Record your work at the computer into a session folder (needs the `record` extra)."""
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if missing and not {"-h", "--help"} & set(argv):
        print(
            f"error: recording needs {', '.join(missing)}: pip install 'datamakr[record]'",
            file=sys.stderr,
        )
        return 2
    from recorder.cli import main

    return main(argv)
