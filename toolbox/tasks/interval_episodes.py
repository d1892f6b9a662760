"""The main task: a recorded session -> activity intervals with evidence -> episodes written by
a transcriber plugin (`heuristic` offline by default, or an LLM)."""
from __future__ import annotations

from typing import Any, Iterator, Literal

from pydantic import Field, field_validator

from toolbox.activity.actions import ActionSettings
from toolbox.activity.evidence import EvidenceSettings, session_intervals
from toolbox.activity.intervals import IntervalSettings
from toolbox.core.config import ConfigError, PluginRef, plugin_options
from toolbox.core.models import Episode
from toolbox.core.plugin import BuildContext, Options
from toolbox.core.registry import register_task
from toolbox.core.session import Session
from toolbox.ocr_engines.runner import OcrRunner, OcrSettings
from toolbox.tasks.base import Task
from toolbox.transcribers.base import Transcriber

DEFAULT_OCR = "tesseract"  # best word recall per second in bench/RESULTS-ocr.md


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
        ocr: PluginRef | None = Field(default_factory=lambda: PluginRef(name=DEFAULT_OCR))  # null: no OCR
        ocr_region: Literal["window", "pointer", "full"] = "window"  # what part of a frame to read
        ocr_scale: float = Field(default=1.0, ge=0.5, le=4.0)  # upscale the whole region before reading
        ocr_workers: int = Field(default=0, ge=0)  # processes for OCR; 0 = one per CPU core
        near_duplicate: float = Field(default=0.0005, ge=0, le=0.1)  # thumbnail pixel share; 0 = read every frame
        result_chars: int = Field(default=600, ge=0)

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
            intervals=IntervalSettings.model_validate(self.options.model_dump(include=set(IntervalSettings.model_fields))),
            actions=ActionSettings.model_validate(self.options.model_dump(include=set(ActionSettings.model_fields))),
            region=self.options.ocr_region, result_chars=self.options.result_chars)
        self._ocr: OcrRunner | None = None

    def ocr_runner(self) -> OcrRunner | None:
        ref = self.options.ocr
        if ref is None:
            return None
        if self._ocr is None:
            self._ocr = OcrRunner(OcrSettings(engine=ref.name, engine_options=ref.options, scale=self.options.ocr_scale,
                                              workers=self.options.ocr_workers,
                                              near_duplicate=self.options.near_duplicate),
                                  cache_dir=self.ctx.cache_dir)
        return self._ocr

    def run(self, record: Session) -> Iterator[Episode]:
        stats = self.ctx.stats
        intervals = session_intervals(record, self.settings, self.ocr_runner(), lambda m: stats.problem("frames", m))
        if not intervals:
            stats.drop(self.plugin_name, "session has no actions", record.id, str(record.path))
            return
        self._count_ocr()
        by_span = {(i.start, i.end): i for i in intervals}
        for episode in self.transcriber.transcribe(intervals):
            interval = by_span.get(tuple(episode.source.interval or ()))  # type: ignore[arg-type]
            if interval is not None:  # the report's data, whatever the transcriber kept
                episode.metadata = {**interval.metadata, **episode.metadata}
            yield episode

    def _count_ocr(self) -> None:
        if self._ocr is None:
            return
        s = self._ocr.stats
        summary: dict[str, Any] = {"frames": s.frames, "cached": s.cached, "near_duplicates": s.near_duplicates,
                                   "read": s.read, "failed": s.failed, "engine": self.options.ocr.name if self.options.ocr else None}
        self.ctx.stats.extra["ocr"] = summary
