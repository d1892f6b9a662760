"""The main task: a recorded session -> activity intervals with evidence -> episodes written by
a transcriber plugin (`heuristic` offline by default, or an LLM)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, Literal

from pydantic import Field, field_validator

from toolbox.activity.actions import ActionSettings
from toolbox.activity.evidence import EvidenceSettings, session_intervals
from toolbox.activity.intervals import IntervalSettings
from toolbox.activity.models import Interval
from toolbox.activity.screen import ObservationLimits
from toolbox.activity.titles import with_short_titles
from toolbox.core.config import ConfigError, PluginRef, plugin_options
from toolbox.core.io import private_dir
from toolbox.core.models import Episode, EpisodeEvidence
from toolbox.core.plugin import BuildContext, Options
from toolbox.core.registry import register_task
from toolbox.core.session import Session
from toolbox.core.task import Task
from toolbox.ocr_engines.runner import DEFAULT_ENGINE, OcrRequest, OcrRunner, OcrSettings
from toolbox.ocr_engines.words import OcrWord
from toolbox.privacy.exclusion import WindowExclusion, compile_patterns
from toolbox.privacy.intervals import without_excluded_clipboard
from toolbox.privacy.options import RedactionOptions
from toolbox.privacy.redactor import Redactor
from toolbox.privacy.session import FrameWords, SessionRedaction
from toolbox.transcribers.base import Transcriber


def _check_ref(kind: str, value: PluginRef | None) -> PluginRef | None:
    if value is not None:
        try:
            plugin_options(kind, value, kind[:-1])
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return value


@register_task("interval_episodes")
class IntervalEpisodes(Task):
    """Sessions cut into activity intervals (idle, focus, Enter, markers), OCR'd, transcribed to tool-call episodes."""

    accepts = (Session,)

    class Options(IntervalSettings, ActionSettings, Options):
        transcriber: PluginRef = Field(default_factory=lambda: PluginRef(name="heuristic"))
        ocr: PluginRef | None = Field(default_factory=lambda: PluginRef(name=DEFAULT_ENGINE))  # null: no OCR
        ocr_region: Literal["window", "pointer", "full"] = "window"  # what part of a frame to read
        ocr_scale: float = Field(default=1.0, ge=0.5, le=4.0)  # upscale the whole region before reading
        ocr_workers: int = Field(default=0, ge=0)  # processes for OCR; 0 = one per CPU core (of a worker's share)
        # reuse the words of text that did not change (full-resolution bands, ocr_engines/changes.py);
        # false: read every frame whole
        ocr_reuse: bool = True
        # an action's result: the focused window after it, changed lines marked (README, "interval_episodes")
        result_lines: int = Field(default=14, ge=1)
        result_chars: int = Field(default=900, ge=0)
        # privacy (issue 6): what a transcriber (offline or LLM) may see
        redact: RedactionOptions | None = Field(default_factory=RedactionOptions)  # false: off; or per-kind switches
        exclude_windows: list[str] = Field(default_factory=list)  # regexes on window titles: such intervals are dropped
        exclude_apps: list[str] = Field(default_factory=list)  # regexes on app names

        @field_validator("redact", mode="before")
        @classmethod
        def _redact_switch(cls, value: Any) -> Any:
            if value is True:
                return {}
            if value is False:
                return None
            return value

        @field_validator("exclude_windows", "exclude_apps")
        @classmethod
        def _regexes(cls, value: list[str], info: Any) -> list[str]:
            compile_patterns(value, info.field_name)
            return value

        @field_validator("transcriber")
        @classmethod
        def _transcriber_exists(cls, value: PluginRef) -> PluginRef:
            return _check_ref("transcribers", value)  # type: ignore[return-value]

        @field_validator("ocr")
        @classmethod
        def _ocr_engine_exists(cls, value: PluginRef | None) -> PluginRef | None:
            return _check_ref("ocr_engines", value)

    options: Options

    def __init__(self, options: Options | None = None, ctx: BuildContext | None = None) -> None:
        super().__init__(options, ctx)
        plugin, transcriber_options = plugin_options("transcribers", self.options.transcriber, "transcriber")
        self.transcriber: Transcriber = plugin(transcriber_options, self.ctx)
        self.transcriber.plugin_name = self.options.transcriber.name
        self.settings = EvidenceSettings(
            intervals=IntervalSettings.model_validate(
                self.options.model_dump(include=set(IntervalSettings.model_fields))
            ),
            actions=ActionSettings.model_validate(self.options.model_dump(include=set(ActionSettings.model_fields))),
            region=self.options.ocr_region,
            result=ObservationLimits(lines=self.options.result_lines, chars=self.options.result_chars),
        )
        self._ocr: OcrRunner | None = None
        self.exclusion = WindowExclusion.from_patterns(self.options.exclude_windows, self.options.exclude_apps)
        self.redactor = Redactor(self.options.redact) if self.options.redact is not None else None
        use_redactor = getattr(self.transcriber, "use_redactor", None)
        if callable(use_redactor):  # LLM transcribers redact every request with the same options
            use_redactor(self.redactor)

    def ocr_runner(self) -> OcrRunner | None:
        ref = self.options.ocr
        if ref is None:
            return None
        if self._ocr is None:
            private_dir(self.ctx.cache_dir / "ocr")  # OCR results hold unredacted screen text
            self._ocr = OcrRunner(
                OcrSettings(
                    engine=ref.name,
                    engine_options=ref.options,
                    scale=self.options.ocr_scale,
                    workers=self.options.ocr_workers or self.ctx.cpus or 0,  # 0: every core
                    reuse=self.options.ocr_reuse,
                ),
                cache_dir=self.ctx.cache_dir,
            )
        return self._ocr

    def safe_intervals(self, record: Session) -> tuple[list[Interval], SessionRedaction | None]:
        """The session's intervals as a transcriber may see them: excluded windows gone (their
        frames never read), everything else redacted with one map for the session."""
        stats = self.ctx.stats
        session, hidden = self.exclusion.without_frames(record)
        session = without_excluded_clipboard(session, self.exclusion)
        if hidden:
            stats.extra["excluded_frames"] = stats.extra.get("excluded_frames", 0) + hidden
        ocr = self.ocr_runner()
        frame_words = FrameWords()
        reader = WordsKeeper(ocr, frame_words) if ocr is not None and self.redactor is not None else ocr
        intervals = session_intervals(session, self._settings(record), reader, lambda m: stats.problem("frames", m))  # type: ignore[arg-type]
        if not intervals:
            stats.drop(self.plugin_name, "session has no actions", record.id, str(record.path))
            return [], None
        self._count_ocr()
        kept = []
        for interval in intervals:
            reason = self.exclusion.reason(interval) if self.exclusion else None
            if reason is not None:  # counted without its title: the window is nobody's business
                stats.drop(self.plugin_name, reason, interval.id)
            else:
                kept.append(with_short_titles(interval))  # after exclusion: its patterns may name paths
        if self.redactor is None or not kept:
            return kept, None
        privacy = SessionRedaction(self.redactor, frame_words)
        return privacy.intervals(kept, frames=bool(getattr(self.transcriber, "vision", False))), privacy

    def _settings(self, record: Session) -> EvidenceSettings:
        """Frames go to a vision model whole, so OCR reads them whole (to find every secret on
        them), unless `ocr_region` is set or an excluded window was on screen in the session: then
        what OCR did not read (beside the focused window) is blacked out."""
        vision = bool(getattr(self.transcriber, "vision", False))
        if not vision or "ocr_region" in self.options.model_fields_set or self.exclusion.seen(record):
            return self.settings
        return dataclasses.replace(self.settings, region="full")

    def run(self, record: Session) -> Iterator[Episode]:
        intervals, privacy = self.safe_intervals(record)
        if not intervals:
            return
        by_span = {(i.start, i.end): i for i in intervals}
        try:
            for episode in self.transcriber.transcribe(intervals):
                interval = by_span.get(tuple(episode.source.interval or ()))  # type: ignore[arg-type]
                if interval is not None:  # the report's data, whatever the transcriber kept
                    episode.metadata = {**_evidence_left_out(interval.metadata, episode.metadata), **episode.metadata}
                yield privacy.episode(episode) if privacy is not None else episode
        finally:
            if privacy is not None:
                totals = self.ctx.stats.extra.setdefault("redactions", {})
                for kind, n in privacy.totals.items():
                    totals[kind] = totals.get(kind, 0) + n

    def _count_ocr(self) -> None:
        if self._ocr is None:
            return
        s = self._ocr.stats
        summary: dict[str, Any] = {
            "frames": s.frames,
            "cached": s.cached,
            "near_duplicates": s.near_duplicates,
            "read": s.read,
            "lines_reused": s.lines_reused,
            "failed": s.failed,
            "engine": self.options.ocr.name if self.options.ocr else None,
        }
        self.ctx.stats.extra["ocr"] = summary


class WordsKeeper:
    """Stands in for the OCR runner: passes every read through and keeps each frame's words
    (in memory) for blacking out frames a vision model will see."""

    def __init__(self, runner: OcrRunner, keep: FrameWords) -> None:
        self.runner = runner
        self.keep = keep

    def read(
        self, requests: list[OcrRequest], problem: Callable[[str], None]
    ) -> dict[OcrRequest, list[OcrWord] | None]:
        results = self.runner.read(requests, problem)
        for request, words in results.items():
            if words is not None:
                self.keep.add(request.path, request.region, words)
        return results


def _evidence_left_out(evidence: EpisodeEvidence, metadata: dict[str, Any]) -> dict[str, Any]:
    """`evidence.as_metadata()`, but for the fields the transcriber's metadata already holds (the
    offline one puts them all there: made again, they were a tenth of a warm rebuild)."""
    missing = set(EpisodeEvidence.model_fields) - metadata.keys()
    return evidence.model_dump(mode="json", exclude_defaults=True, include=missing) if missing else {}
