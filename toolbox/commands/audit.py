"""`build_data.py audit --config configs/llm.yaml [--session ID] [--limit N]`: print exactly what
a build would send to the LLM for a session (each request's messages, after redaction, and which
frames go as images, blacked out, with the share of each that is black), with redactions marked.
Sends nothing: the transcriber's LLM client is never made, the filters are not made, and datasets
that ask an LLM are not read.
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from toolbox.cli import check_use_vision
from toolbox.core import registry
from toolbox.core.config import ConfigError, ExperimentConfig, load_config
from toolbox.core.pipeline import Pipeline, make_pipeline
from toolbox.core.registry import register_command
from toolbox.core.session import Session
from toolbox.llm.config import LLMOptions
from toolbox.privacy.intervals import blacked_out_frame
from toolbox.privacy.options import KINDS
from toolbox.privacy.passwords import black_share
from toolbox.privacy.redactor import RedactionMap
from toolbox.tasks.interval_episodes import IntervalEpisodes

PLACEHOLDER = re.compile(r"\[(?:{})(?:_\d+)?\]".format("|".join(KINDS.values())))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datamakr audit",
        description="Print what a build would send to the LLM for a session: every request's messages after redaction "
        "(placeholders such as [EMAIL_1] and [PASSWORD] mark what was removed) and the frames sent as images, "
        "written blacked out to a private folder. Nothing is sent.",
    )
    parser.add_argument("--config", default="configs/llm.yaml", help="experiment YAML (default: configs/llm.yaml)")
    parser.add_argument("--session", help="session id (default: every session the config reads)")
    parser.add_argument("--limit", type=int, help="show at most N requests")
    parser.add_argument(
        "--frames-dir", type=Path, help="where blacked-out copies of the frames go (default: <cache_dir>/audit)"
    )
    parser.add_argument(
        "--use-vision", action="store_true", default=None, help="as the build flag: frames go as images"
    )
    return parser


@register_command("audit")
def audit_command(argv: list[str]) -> int:
    """Print what a build would send to an LLM, after redaction; sends nothing."""
    args = _parser().parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    try:
        return audit(args, console)
    except (ConfigError, registry.PluginError) as exc:
        Console(stderr=True, soft_wrap=True).print(f"error: {exc}", markup=False)
        return 2


def audit(args: argparse.Namespace, console: Console) -> int:
    config, base_dir = load_config(args.config, {"use_vision": args.use_vision})
    with _stand_in_api_key():  # the audit never sends, so it needs no key
        pipeline = make_pipeline(config.model_copy(update={"filters": [], "max_length": None}), base_dir)
    if config.use_vision:
        check_use_vision(pipeline, "--use-vision" if args.use_vision else f"{args.config}: use_vision")
    tasks = [task for task in pipeline.tasks if isinstance(task, IntervalEpisodes)]
    if not tasks:
        raise ConfigError(
            f"{args.config}: no task cuts sessions into intervals (such as interval_episodes): "
            "nothing of a session is sent to an LLM"
        )
    frames_dir = args.frames_dir or pipeline.ctx.cache_dir / "audit"
    shown = 0
    found = False
    for dataset in pipeline.datasets:
        if isinstance(dataset.options, LLMOptions):  # its records come from an LLM: reading them sends
            continue
        for record in dataset.records():
            if not isinstance(record, Session) or (args.session and record.id != args.session):
                continue
            found = True
            for task in tasks:
                shown += _audit_session(
                    task, record, console, frames_dir, None if args.limit is None else args.limit - shown
                )
                if args.limit is not None and shown >= args.limit:
                    return _done(console, pipeline, config, shown)
    if args.session and not found:
        raise ConfigError(f"{args.config}: no session {args.session!r} in the config's datasets")
    return _done(console, pipeline, config, shown)


@contextmanager
def _stand_in_api_key() -> Iterator[None]:
    """An LLM plugin checks for an API key when it is made; without one in the environment, a
    stand-in while the pipeline is made (it is never sent: no request is made)."""
    if os.environ.get("OPENAI_API_KEY"):
        yield
        return
    os.environ["OPENAI_API_KEY"] = "unused-by-audit"
    try:
        yield
    finally:
        del os.environ["OPENAI_API_KEY"]


def _audit_session(
    task: IntervalEpisodes, record: Session, console: Console, frames_dir: Path, limit: int | None
) -> int:
    console.rule(f"session {record.id} ({record.path})")
    intervals, _ = task.safe_intervals(record)
    stats = task.ctx.stats
    for (flt, reason), n in sorted(stats.dropped.items()):
        console.print(f"dropped before any model: {n} interval(s), {flt}: {reason}", markup=False)
    stats.dropped.clear()
    transcriber = task.transcriber
    if not hasattr(transcriber, "request_messages"):
        console.print(
            f"transcriber {transcriber.plugin_name!r} runs here: nothing of this session is sent anywhere "
            f"({len(intervals)} intervals).",
            markup=False,
        )
        return 0
    if transcriber.redactor is None:
        console.print("redaction is OFF (redact: false): text is sent as recorded", style="bold red")
    model = transcriber.options.model or "(model from OPENAI_MODEL)"
    count = 0
    shares: list[float] = []
    for group in transcriber.groups(intervals):
        if limit is not None and count >= limit:
            break
        problems: list[str] = []
        sent: list[Any] = []
        messages = transcriber.request_messages(group, problems, sent)
        console.rule(f"request {count + 1}: {group.ids} -> {model}")
        marks: Counter[str] = Counter()
        images = iter(sent)
        for message in messages:
            console.print(f"[{message['role']}]", style="bold", markup=False)
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
            for part in parts:
                if part.get("type") == "text":
                    text = part["text"]
                    marks.update(PLACEHOLDER.findall(text))
                    rendered = Text(text)
                    rendered.highlight_regex(PLACEHOLDER, "reverse bold")
                    console.print(rendered)
                else:
                    console.print(_image_line(next(images, None), task, frames_dir, shares), markup=False)
        summary = ", ".join(f"{p} x{n}" if n > 1 else p for p, n in sorted(marks.items()))
        console.print(f"redacted in this request: {summary or 'nothing'}", markup=False)
        for problem in problems:
            console.print(f"not sent: {problem}", markup=False)
        count += 1
    if shares:
        console.print(
            f"black share of the {len(shares)} frame(s) shown: mean {sum(shares) / len(shares):.1%}, "
            f"max {max(shares):.1%}",
            markup=False,
        )
    return count


def _image_line(sent: Any, task: IntervalEpisodes, frames_dir: Path, shares: list[float]) -> str:
    if sent is None:
        return "[image]"
    interval, frame, boxes = sent
    copy = blacked_out_frame(frame, [], task.redactor, RedactionMap(), frames_dir / interval.session_id, boxes=boxes)
    share = black_share(boxes, (frame.width, frame.height))
    shares.append(share)
    return (
        f"[image: {frame.path}, {frame.width}x{frame.height}, {len(boxes)} area(s) blacked out; as sent: {copy.path}; "
        f"black: {share:.1%}]"
    )


def _done(console: Console, pipeline: Pipeline, config: ExperimentConfig, shown: int) -> int:
    llm_datasets = [dataset.plugin_name for dataset in pipeline.datasets if isinstance(dataset.options, LLMOptions)]
    if llm_datasets:
        console.print(
            f"also: dataset(s) {', '.join(llm_datasets)} ask an LLM for their records: not read here.", markup=False
        )
    llm_filters = [ref.name for ref in config.filters if _is_llm(ref.name)]
    if llm_filters:
        console.print(
            f"also: filter(s) {', '.join(llm_filters)} send each episode's text as it is written to the output.",
            markup=False,
        )
    console.print(f"{shown} request(s) shown; nothing was sent.", markup=False)
    return 0


def _is_llm(filter_name: str) -> bool:
    plugin = registry.get("filters", filter_name, "filters")
    return isinstance(getattr(plugin, "Options", None), type) and issubclass(plugin.Options, LLMOptions)
