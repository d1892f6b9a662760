"""The dataset card (README.md) that goes with every export: what was built, from what config,
the build's counts and drops (from `<output>.stats.json`), the splits, and a licence to fill in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LICENCE_TODO = "unknown"  # a value the Hub accepts; the card asks the user to replace it


def dataset_card(
    source: Path, stats: dict[str, Any], splits: dict[str, int], fmt: str, configs: list[dict[str, Any]] | None = None
) -> str:
    """Markdown with a YAML header. `stats`: the build's stats ({} when there were none beside the
    file); `splits`: rows per split; `configs`: the Hub's data file layout, when pushed there."""
    build = stats.get("build") if isinstance(stats.get("build"), dict) else {}
    header: dict[str, Any] = {
        "license": LICENCE_TODO,
        "pretty_name": source.name.removesuffix(".jsonl"),
        "tags": ["datamakr", "function-calling", "tool-use", fmt],
        "task_categories": ["text-generation"],
    }
    if configs:
        header["configs"] = configs
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False).strip(),
        "---",
        "",
        f"# {header['pretty_name']}",
        "",
        f"Function-calling training data in the **{fmt}** layout, made by datamakr"
        + (f" {build['datamakr']}" if build.get("datamakr") else "")
        + f" from `{source.name}`.",
        "",
        "## Licence",
        "",
        f"`license: {LICENCE_TODO}` above is a placeholder: replace it with the licence you may share this data",
        "under (e.g. `cc-by-4.0`, `mit`, `other`) before publishing. Recorded work holds other people's data:",
        "check what the build redacted and excluded before you share it.",
        "",
        "## What was built",
        "",
    ]
    if build:
        lines += [
            f"- config: `{build.get('config', '?')}` (seed {build.get('seed', '?')})",
            f"- datasets: {_names(build.get('datasets'))}",
            f"- tasks: {_names(build.get('tasks'))}",
            f"- filters, in order: {_names(build.get('filters'))}",
            f"- format: {build.get('format', fmt)}",
        ]
    else:
        lines.append(f"No build record was found beside `{source.name}` (its `.stats.json`): the steps are unknown.")
    lines += ["", "## Rows", "", "| split | rows |", "| --- | ---: |"]
    lines += [f"| {name} | {count} |" for name, count in splits.items()]
    if stats:
        lines += ["", "## The build's counts", "", "| step | what | count |", "| --- | --- | ---: |"]
        lines += [f"| read | {name} | {count} |" for name, count in sorted((stats.get("read") or {}).items())]
        lines += [f"| skipped | unreadable {kind} | {n} |" for kind, n in sorted((stats.get("skipped") or {}).items())]
        lines.append(f"| tasks | episodes made | {stats.get('episodes', '?')} |")
        for drop in stats.get("dropped") or []:
            lines.append(f"| dropped | {drop.get('filter')}: {drop.get('reason')} | {drop.get('count')} |")
        lines.append(f"| written | episodes | {stats.get('written', '?')} |")
        lines.append(f"| written | tokens ({stats.get('tokenizer', 'cl100k_base')}) | {stats.get('tokens', '?')} |")
    return "\n".join(lines) + "\n"


def _names(values: Any) -> str:
    return ", ".join(f"`{v}`" for v in values) if values else "none"
