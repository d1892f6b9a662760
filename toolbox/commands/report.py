"""`build_data.py report OUTPUT`: an HTML report of an existing build; and the report a build
writes when it finishes, behind `build_data.py --report out/report.html` (or `report:` in the YAML)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toolbox.core.pipeline import Pipeline, episodes_log_path
from toolbox.core.registry import register_command
from toolbox.report import ReportResult, read_episodes_log, read_output_file, read_stats, write_report


def report_for_output(
    output: Path,
    report: Path,
    *,
    stats_path: Path | None = None,
    episodes_path: Path | None = None,
    frames: str = "link",
    title: str | None = None,
) -> ReportResult:
    """Report on a finished build: its episodes log when there is one (full episodes, kept and
    dropped), else the output file read back through its format (kept episodes, no frames)."""
    problems: list[str] = []
    stats = read_stats(stats_path or output.with_name(output.name + ".stats.json"), problems)
    log = episodes_path or episodes_log_path(output)
    if log.exists():
        entries = list(read_episodes_log(log, problems))
    else:
        if episodes_path is not None:
            raise FileNotFoundError(f"{episodes_path}: episodes log not found")
        entries = list(read_output_file(output, problems))
    return write_report(report, entries, stats, output=output, frames=frames, title=title, problems=problems)  # type: ignore[arg-type]


def report_after_build(pipeline: Pipeline, report: Path, output: Path) -> None:
    """Render the episodes log a build kept (config.report set) to `report`: a finish callback."""
    if pipeline.episodes_log is None:
        return
    problems: list[str] = []
    entries = list(read_episodes_log(pipeline.episodes_log, problems))
    result = write_report(report, entries, pipeline.stats.to_dict(), output=output, problems=problems)
    print(
        f"report: {result.path} ({result.episodes} episodes, {result.frames} frames, {result.bytes / 1e6:.1f} MB)",
        file=sys.stderr,
    )


@register_command("report")
def report_command(argv: list[str]) -> int:
    """Write a static HTML report of a build: its summary and every episode, kept or dropped."""
    parser = argparse.ArgumentParser(
        prog="datamakr report",
        description="Write a static HTML report of a build (opens from file://, no network). Uses "
        "OUTPUT.stats.json and, when the build ran with --report, OUTPUT.episodes.jsonl (full episodes with "
        "frames, kept and dropped); "
        "otherwise the episodes are read back from OUTPUT itself.",
    )
    parser.add_argument("output", type=Path, help="the build's output JSONL (glaive, sharegpt or openai)")
    parser.add_argument("-o", "--report", type=Path, help="HTML file to write (default: OUTPUT with .report.html)")
    parser.add_argument("--stats", type=Path, help="build stats JSON (default: OUTPUT.stats.json)")
    parser.add_argument("--episodes", type=Path, help="episodes log (default: OUTPUT.episodes.jsonl)")
    parser.add_argument(
        "--frames",
        choices=("link", "embed"),
        default="link",
        help="link: thumbnails beside the page, full frames referenced in place (default); "
        "embed: downscaled frames inside the HTML (one file, larger)",
    )
    parser.add_argument("--title", help="page title")
    args = parser.parse_args(argv)
    report = args.report or args.output.with_name(args.output.stem + ".report.html")
    if not args.output.exists() and not (args.episodes or episodes_log_path(args.output)).exists():
        print(f"error: {args.output}: output file not found", file=sys.stderr)
        return 2
    try:
        result = report_for_output(
            args.output,
            report,
            stats_path=args.stats,
            episodes_path=args.episodes,
            frames=args.frames,
            title=args.title,
        )
    except OSError as exc:
        print(f"error: {getattr(exc, 'filename', None) or args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for line in result.problems[:20]:
        print(f"warning: {line}", file=sys.stderr)
    print(
        f"wrote {result.path}: {result.episodes} episodes ({result.kept} kept, {result.dropped} dropped), "
        f"{result.frames} frames, {result.bytes / 1e6:.1f} MB"
    )
    return 0
