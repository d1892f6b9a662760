"""The `datamakr` command (and `build_data.py`): build a dataset from a YAML experiment, list
plugins, and the subcommands.

Subcommands other than `build` and `list` register in the registry (`register_command`), so
other parts (record, validate, export, report, audit) add theirs without touching the build path."""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import orjson
from rich.console import Console
from rich.table import Table

import toolbox
from toolbox.commands.report import report_after_build
from toolbox.core import registry
from toolbox.core.config import ConfigError, ExperimentConfig, load_config
from toolbox.core.executor import executor_ref
from toolbox.core.io import write_atomic
from toolbox.core.memory import collected_between_shards, exit_without_final_collection
from toolbox.core.pipeline import BuildFailed, Pipeline, make_pipeline, prepare_outputs, run, stats_path
from toolbox.core.plugin import BuildStats, log
from toolbox.core.trainers import axolotl_path, write_trainer_files
from toolbox.llm.runtime import metrics_path

# Exit codes of a build (README "Exit codes"); subcommands use 0, 1 and 2 the same way.
EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG, EXIT_NOTHING_WRITTEN = 0, 1, 2, 3
EXIT_CODES = (
    "exit codes: 0 ok; 1 failed (an output could not be written, e.g. a full disk); "
    "2 bad config (a config, flag or path; nothing was done); 3 nothing written (every record was skipped or dropped)"
)
FLAGS = {"output": "--output-file"}  # config keys whose flag is not `--key-name`

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def build_parser(prog: str = "build_data.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Compile recorded sessions (and existing data) into function-calling training data. "
        "Subcommands: " + ", ".join(registry.names(registry.COMMANDS)) + " (run `datamakr SUBCOMMAND -h`).",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--config", default="configs/demo.yaml", help="experiment YAML (default: configs/demo.yaml)")
    parser.add_argument(
        "--tasks", help="comma-separated task names: runs only these of the YAML's tasks, with their options"
    )
    parser.add_argument(  # no argparse choices: a format can come from the YAML's plugins
        "--format", help=f"output format ({', '.join(registry.names('formats'))}, ...); replaces the YAML's format"
    )
    parser.add_argument("--output-file", help="output JSONL path; replaces the YAML's output")
    parser.add_argument("--max-length", type=int, help="token limit per episode (cl100k_base, or --tokenizer's)")
    parser.add_argument(
        "--tokenizer", help="a local HF tokenizer folder: token counts of each row with its chat template"
    )
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--limit", type=int, help="build from the first N records only")
    parser.add_argument("--report", help="also write an HTML report of the build (e.g. out/report.html)")
    parser.add_argument(
        "--use-vision", action="store_true", default=None, help="LLM transcribers also send the frames as images"
    )
    parser.add_argument(
        "--executor",
        choices=registry.names("executors"),
        help="where sessions are processed: local processes or a Ray cluster; replaces the YAML's executor",
    )
    parser.add_argument("--workers", type=int, help="shards (sessions, files) processed at once (default 1)")
    parser.add_argument("--list", action="store_true", help="list every registered plugin and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary table")
    return parser


def console_script() -> NoReturn:
    """The installed `datamakr` command."""
    exit_without_final_collection(datamakr())


def datamakr(argv: list[str] | None = None) -> int:
    """The `datamakr` console script: `datamakr SUBCOMMAND ...` or `datamakr --version`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("--version", "-V"):
        print(f"datamakr {toolbox.__version__}")
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if not argv or argv[0] not in subcommands():
        close = difflib.get_close_matches(argv[0], subcommands(), n=1) if argv else []
        problem = f"unknown subcommand {argv[0]!r}" if argv else "name a subcommand"
        print(usage(), file=sys.stderr)
        print(f"error: {problem}" + (f"; did you mean {close[0]!r}?" if close else ""), file=sys.stderr)
        return 2
    return main(argv, prog="datamakr")


def subcommands() -> list[str]:
    return ["build", "list", *registry.names(registry.COMMANDS)]


def usage() -> str:
    rows = [
        ("build", "compile sessions and data files into training data (--config YAML; -h for the flags)"),
        ("list", "every registered dataset, task, filter, format, transcriber and OCR engine"),
    ]
    for name in registry.names(registry.COMMANDS):
        doc = (registry.get(registry.COMMANDS, name).__doc__ or "").strip().splitlines()
        rows.append((name, doc[0] if doc else ""))
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name.ljust(width)}  {what}" for name, what in rows]
    return "\n".join(
        [
            "usage: datamakr SUBCOMMAND [options]   (datamakr SUBCOMMAND -h for its options; datamakr --version)",
            "",
            *lines,
        ]
    )


# modules that only an extra installs (pyproject.toml), and that extra
EXTRA_OF = {
    "pynput": "record",
    "mss": "record",
    "Xlib": "record",
    "rapidocr_onnxruntime": "ocr",
    "onnxruntime": "ocr",
    "cv2": "ocr",
    "openai": "llm",
    "dotenv": "llm",
    "jsonschema": "llm",
    "detect_secrets": "llm",
    "datasets": "hf",
    "huggingface_hub": "hf",
    "tokenizers": "hf",
    "jinja2": "hf",
    "ray": "ray",
}


def main(argv: list[str] | None = None, prog: str = "build_data.py") -> int:
    """`build_data.py [SUBCOMMAND] ...`: without a subcommand, the build's flags. A step that needs
    a package only an extra installs says which extra, in one line."""
    try:
        return run_command(argv, prog)
    except ModuleNotFoundError as exc:
        extra = EXTRA_OF.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        err_console.print(
            f"error: this needs {exc.name!r}, which the `{extra}` extra installs: pip install 'datamakr[{extra}]'",
            markup=False,
        )
        return 2


def run_command(argv: list[str] | None, prog: str) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    if argv and argv[0] in registry.names(registry.COMMANDS):
        return registry.get(registry.COMMANDS, argv[0])(argv[1:])  # type: ignore[no-any-return]
    if argv and argv[0] == "list":
        argv = ["--list", *argv[1:]]
    elif argv and argv[0] == "build":
        argv, prog = argv[1:], f"{prog} build"
    args = build_parser(prog).parse_args(argv)
    try:
        if args.list:
            return list_plugins()
        return build(args)
    except (ConfigError, registry.PluginError) as exc:
        err_console.print(f"error: {exc}", markup=False)
        return EXIT_BAD_CONFIG
    except BuildFailed as exc:
        err_console.print(f"error: {exc}", markup=False)
        return EXIT_FAILED
    except OSError as exc:  # e.g. the stats or the report beside a written output
        err_console.print(
            f"error: {exc.filename or 'writing the stats or report'}: {exc.strerror or exc}", markup=False
        )
        return EXIT_FAILED


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
        "tokenizer": args.tokenizer and str(Path(args.tokenizer).resolve()),
    }
    config, base_dir = load_config(args.config, overrides, FLAGS)
    if args.executor or args.workers is not None:
        config = config.model_copy(update={"executor": executor_ref(config.executor, args.executor, args.workers)})
    pipeline = make_pipeline(config, base_dir)
    if config.use_vision:
        check_use_vision(pipeline, "--use-vision" if args.use_vision else f"{args.config}: use_vision")
    output = pipeline.ctx.path(config.output)
    report = pipeline.ctx.path(config.report) if config.report else None
    inputs = {"the config": Path(args.config).resolve()}
    inputs.update({f"plugins[{i}]": base_dir / p for i, p in enumerate(config.plugins) if p.endswith(".py")})
    prepare_outputs(pipeline, build_outputs(pipeline, output, report), inputs)
    if report is not None:
        pipeline.ctx.on_finish(partial(report_after_build, pipeline, report))
    pipeline.stats.extra["build"] = build_info(pipeline, config, args.config)
    started = time.perf_counter()
    with collected_between_shards():
        stats = run(pipeline, output)
    write_atomic(stats_path(output), orjson.dumps(stats.to_dict(), option=orjson.OPT_INDENT_2))
    write_trainer_files(pipeline.format, output)
    if not args.quiet:
        print_summary(stats, output, config.format.name, time.perf_counter() - started)
    if stats.written == 0:
        log.warning("nothing written to %s: every record was skipped or dropped (see above); exit code 3", output)
        return EXIT_NOTHING_WRITTEN
    return EXIT_OK


def build_outputs(pipeline: Pipeline, output: Path, report: Path | None) -> dict[str, Path]:
    """Every file (and folder) a build writes, by role: checked against each other and the inputs."""
    outputs = {
        "output": output,
        "stats": stats_path(output),
        "LLM metrics": metrics_path(output),
        "axolotl snippet": axolotl_path(output),
    }
    if report is not None:
        outputs["report"] = report
    if pipeline.episodes_log is not None:
        outputs["episodes log"] = pipeline.episodes_log
    return outputs


def check_use_vision(pipeline: Pipeline, where: str) -> None:
    """Frames go to a model only through a transcriber that can send them (one with a `vision`
    option); asking for vision without one would silently do nothing, so it is an error."""
    transcribers = [task.transcriber for task in pipeline.tasks if hasattr(task, "transcriber")]
    if not any("vision" in type(t.options).model_fields for t in transcribers):
        names = ", ".join(sorted({t.plugin_name for t in transcribers})) or "none"
        raise ConfigError(
            f"{where}: no transcriber of this build can send frames (transcribers: {names}); "
            "use one with a vision option, e.g. transcriber: {name: openai, vision: true}"
        )


def build_info(pipeline: Pipeline, config: ExperimentConfig, config_path: str) -> dict[str, Any]:
    """What was built from what, for the stats file and the dataset card: the steps by name (their
    options can hold keys, so they stay in the YAML)."""
    return {
        "config": str(Path(config_path).resolve()),
        "datasets": [step.plugin_name for step in pipeline.datasets],
        "tasks": [step.plugin_name for step in pipeline.tasks],
        "filters": [step.plugin_name for step in pipeline.filters],
        "format": config.format.name,
        "seed": config.seed,
        "datamakr": toolbox.__version__,
    }


def print_summary(stats: BuildStats, output: Path, fmt: str, seconds: float) -> None:
    table = Table(title=f"datamakr build: {output} ({fmt})", show_header=True)
    table.add_column("step")
    table.add_column("what")
    table.add_column("count", justify="right")
    for dataset, count in sorted(stats.read.items()):
        table.add_row("read", dataset, str(count))
    for kind, count in sorted(stats.skipped.items()):
        table.add_row("skipped", kind, str(count))
    table.add_row("tasks", "episodes made", str(stats.episodes))
    for (flt, reason), count in sorted(stats.dropped.items()):
        table.add_row("dropped", f"{flt}: {reason}", str(count))
    table.add_row("written", "episodes", str(stats.written))
    table.add_row("written", f"tokens ({stats.extra.get('tokenizer', 'cl100k_base')})", str(stats.tokens))
    for key, value in stats.extra.items():
        if isinstance(value, (int, float, str)) and key != "tokenizer":
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
