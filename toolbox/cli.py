"""`build_data.py`: build a dataset from a YAML experiment, list plugins, validate a file.

Subcommands register in the registry (`register_command`), so other parts (report, audit) add
theirs without touching the build path."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from functools import partial
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from toolbox.commands.report import report_after_build
from toolbox.core import registry
from toolbox.core.config import ConfigError, PluginRef, load_config
from toolbox.core.io import write_atomic
from toolbox.core.pipeline import make_pipeline, run
from toolbox.core.plugin import BuildStats

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="build_data.py",
        description="Compile recorded sessions (and existing data) into function-calling training data. "
        "Subcommands: " + ", ".join(registry.names(registry.COMMANDS)) + " (run `build_data.py SUBCOMMAND -h`).",
    )
    parser.add_argument("--config", default="configs/demo.yaml", help="experiment YAML (default: configs/demo.yaml)")
    parser.add_argument("--tasks", help="comma-separated task names; replaces the YAML's tasks")
    parser.add_argument("--format", choices=registry.names("formats"), help="output format; replaces the YAML's format")
    parser.add_argument("--output-file", help="output JSONL path; replaces the YAML's output")
    parser.add_argument("--max-length", type=int, help="token limit per episode (tiktoken cl100k_base)")
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--limit", type=int, help="build from the first N records only")
    parser.add_argument("--report", help="also write an HTML report of the build (e.g. out/report.html)")
    parser.add_argument(
        "--use-vision", action="store_true", default=None, help="LLM transcribers also send the frames as images"
    )
    parser.add_argument("--list", action="store_true", help="list every registered plugin and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary table")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    if argv and argv[0] in registry.names(registry.COMMANDS):
        return registry.get(registry.COMMANDS, argv[0])(argv[1:])  # type: ignore[no-any-return]
    args = build_parser().parse_args(argv)
    try:
        if args.list:
            return list_plugins()
        return build(args)
    except (ConfigError, registry.PluginError) as exc:
        err_console.print(f"error: {exc}", markup=False)
        return 2


def build(args: argparse.Namespace) -> int:
    overrides = {
        "tasks": args.tasks.split(",") if args.tasks else None,
        "format": args.format,
        "output": args.output_file and str(Path(args.output_file).resolve()),
        "max_length": args.max_length,
        "seed": args.seed,
        "limit": args.limit,
        "use_vision": args.use_vision,
        "report": args.report and str(Path(args.report).resolve()),
    }
    config, base_dir = load_config(args.config, overrides)
    pipeline = make_pipeline(config, base_dir)
    if config.report:
        pipeline.ctx.on_finish(partial(report_after_build, pipeline, pipeline.ctx.path(config.report)))
    output = pipeline.ctx.path(config.output)
    started = time.perf_counter()
    stats = run(pipeline, output)
    write_atomic(
        output.with_name(output.name + ".stats.json"), orjson.dumps(stats.to_dict(), option=orjson.OPT_INDENT_2)
    )
    if not args.quiet:
        print_summary(stats, output, PluginRef.model_validate(config.format).name, time.perf_counter() - started)
    return 0


def print_summary(stats: BuildStats, output: Path, fmt: str, seconds: float) -> None:
    table = Table(title=f"datamakr build: {output} ({fmt})", show_header=True)
    table.add_column("step")
    table.add_column("what")
    table.add_column("count", justify="right")
    for dataset, count in sorted(stats.read.items()):
        table.add_row("read", dataset, str(count))
    for kind, count in sorted(stats.skipped.items()):
        table.add_row("skipped", f"unreadable {kind}", str(count))
    table.add_row("tasks", "episodes made", str(stats.episodes))
    for (flt, reason), count in sorted(stats.dropped.items()):
        table.add_row("dropped", f"{flt}: {reason}", str(count))
    table.add_row("written", "episodes", str(stats.written))
    table.add_row("written", "tokens (cl100k_base)", str(stats.tokens))
    for key, value in stats.extra.items():
        if isinstance(value, (int, float, str)):
            table.add_row("info", key, str(value))
    console.print(table)
    console.print(f"wrote {stats.written} episodes to {output} in {seconds:.1f} s", markup=False)


def list_plugins() -> int:
    for kind in registry.KINDS:
        rows = registry.describe(kind)
        if not rows:
            continue
        console.print(f"[bold]{kind}[/bold]")
        width = max(len(name) for name, _ in rows)
        for name, description in rows:
            console.print(f"  {name.ljust(width)}  {description}", markup=False)
    return 0
