from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toolbox.core import registry
from toolbox.core.io import BadLine, read_jsonl
from toolbox.core.registry import register_command


def validate_file(path: Path, format_name: str) -> tuple[int, list[str]]:
    """(rows read, one line per bad row: `path:line: reason`). Vision formats also find the
    images and grounding beside the file and round-trip every point (toolbox/vision/trajectory.py)."""
    fmt = registry.get("formats", format_name)()
    fmt.start(path)
    problems: list[str] = []
    rows = 0
    for number, row in read_jsonl(path):
        rows += 1
        if isinstance(row, BadLine):
            problems.append(f"{path}:{number}: not JSON ({row.reason})")
            continue
        errors = fmt.validate(row)
        if errors:
            problems.append(f"{path}:{number}: {'; '.join(errors)}")
    return rows, problems


@register_command("validate")
def validate_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="build_data.py validate", description="Check every row of a JSONL file against a format's rules."
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--format", required=True, choices=registry.names("formats"))
    args = parser.parse_args(argv)
    try:
        rows, problems = validate_file(args.file, args.format)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for line in problems:
        print(line)
    print(f"{args.file}: {rows} rows, {len(problems)} invalid ({args.format})")
    return 1 if problems else 0
