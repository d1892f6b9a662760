"""The HTML report of a build: summary, token histogram, and every episode (kept or dropped)
with its conversation, frames, clicks, OCR boxes and place on the session timeline."""

from toolbox.report.collect import read_episodes_log, read_output_file, read_stats
from toolbox.report.write import ReportResult, write_report

__all__ = ["ReportResult", "read_episodes_log", "read_output_file", "read_stats", "write_report"]
