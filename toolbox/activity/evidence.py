"""Build the evidence of every interval of a session: actions bound to the frames before and
after them, the text under the pointer, the text that appeared, typed text, and the metadata a
report needs. This is what a transcriber turns into episodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolbox.activity.actions import ActionSettings, CompiledAction, compile_actions
from toolbox.activity.intervals import IntervalSettings, IntervalSlice, cut_intervals
from toolbox.activity.models import Action, FrameRef, Interval
from toolbox.activity.screen import appeared_text, text_at
from toolbox.activity.session_frames import RegionMode, SessionFrames, session_frames
from toolbox.core.models import EpisodeEvidence, EvidenceAction, EvidenceFrame, EvidenceWord
from toolbox.core.session import Session, Window
from toolbox.ocr_engines.runner import OcrRequest, OcrRunner
from toolbox.ocr_engines.words import OcrWord

POINTER_KINDS = ("click", "double_click", "right_click", "drag", "scroll")


@dataclass
class EvidenceSettings:
    intervals: IntervalSettings
    actions: ActionSettings
    region: RegionMode = "window"
    result_chars: int = 600  # most characters of screen text kept as an action's result
    target_reach: int = 24  # pixels from the pointer a word may be and still name the target


def session_intervals(
    session: Session, settings: EvidenceSettings, ocr: OcrRunner | None, problem: Callable[[str], None]
) -> list[Interval]:
    """All intervals of a session that hold at least one action, with their evidence."""
    frames, problems = session_frames(session, settings.region)
    for line in problems:
        problem(line)
    if not frames.refs:
        problem(f"{session.path / 'events.jsonl'}: session has no readable frames; intervals get no screen text")
    words = _read_screens(frames, ocr, problem)
    actions = compile_actions(session.events, settings.actions)
    slices = cut_intervals(session.events, actions, settings.intervals, task=session.meta.task)
    out: list[Interval] = []
    title, app = None, None
    for piece in slices:
        start_title, start_app = title, app
        for event in session.events[piece.first : piece.end]:
            if isinstance(event, Window):
                title, app = event.title, event.app
        if not piece.actions:
            continue
        out.append(_interval(session, piece, frames, words, settings, start_title, start_app))
    return out


def _read_screens(
    frames: SessionFrames, ocr: OcrRunner | None, problem: Callable[[str], None]
) -> dict[str, list[OcrWord]]:
    if ocr is None or not frames.refs:
        return {}
    requests = [OcrRequest(ref.path, frames.regions.get(ref.path)) for ref in frames.refs]
    try:
        results = ocr.read(requests, problem)
    except Exception as exc:  # noqa: BLE001 - an engine failure costs the screen text, not the build
        problem(
            f"{frames.session.path}: OCR failed ({type(exc).__name__}: {str(exc)[:160]}); no screen text for this session"
        )
        return {}
    unreadable = {r.path for r, w in results.items() if w is None}
    if unreadable:
        frames.drop(unreadable)
    return {r.path: w for r, w in results.items() if w is not None}


def _interval(
    session: Session,
    piece: IntervalSlice,
    frames: SessionFrames,
    words: dict[str, list[OcrWord]],
    settings: EvidenceSettings,
    title: str | None,
    app: str | None,
) -> Interval:
    events = session.events
    windows: list[str] = [title] if title else []
    apps: list[str] = [app] if app else []
    for event in events[piece.first : piece.end]:
        if isinstance(event, Window):
            if event.title and event.title not in windows:
                windows.append(event.title)
            if event.app and event.app not in apps:
                apps.append(event.app)
    actions = [_bind(c, events, frames, words, settings) for c in piece.actions]
    first_event, last_event = events[piece.first], events[piece.end - 1]
    main = actions[0].frame_before or frames.before(first_event.t) or frames.after(first_event.t)
    used = {f.path: f for a in actions for f in (a.frame_before, a.frame_after) if f is not None}
    if main is not None:
        used.setdefault(main.path, main)
    interval = Interval(
        session_id=session.id,
        session_path=str(session.path.resolve()),
        index=piece.index,
        start=first_event.t,
        end=last_event.t,
        task=piece.task,
        windows=windows,
        apps=apps,
        actions=actions,
        typed_text=_typed(actions),
        submitted=_submitted(actions),
        screen_words=words.get(main.path, []) if main else [],
        frames=sorted(used.values(), key=lambda f: f.t),
    )
    interval.metadata = report_metadata(interval, frames, main, piece)
    interval.metadata.screens = {
        frames.relative(a.frame_before): [EvidenceWord.model_validate(w) for w in words[a.frame_before.path]]
        for a in actions
        if a.frame_before is not None and a.frame_before.path in words
    }
    return interval


def _bind(
    compiled: CompiledAction,
    events: list[Any],
    frames: SessionFrames,
    words: dict[str, list[OcrWord]],
    settings: EvidenceSettings,
) -> Action:
    action = compiled.action.model_copy(deep=True)
    named = getattr(events[compiled.first], "frame_before", None)
    action.frame_before = frames.named(named) or frames.before(action.t)
    action.frame_after = frames.after(action.t_end or action.t)
    before = words.get(action.frame_before.path, []) if action.frame_before else []
    after = words.get(action.frame_after.path, []) if action.frame_after else []
    point: tuple[int, int] | None = None
    if action.kind in POINTER_KINDS and action.x is not None and action.y is not None and action.frame_before:
        point = action.frame_before.to_frame(action.x, action.y)
        if action.kind != "scroll":
            action.target = text_at(
                before, *point, reach=round(settings.target_reach * max(action.frame_before.scale, 0.25))
            )
    if action.frame_after is not None and action.frame_after.path in words:
        action.result = appeared_text(before, after, *(point or (None, None)), max_chars=settings.result_chars)
    return action


def _typed(actions: list[Action]) -> str:
    parts = []
    for action in actions:
        if action.kind == "type" and action.text:
            parts.append(action.text)
        elif action.kind == "hotkey" and action.keys in (["enter"], ["tab"]):
            parts.append("\n" if action.keys == ["enter"] else "\t")
    return "".join(parts)


def _submitted(actions: list[Action]) -> str | None:
    """The text typed and sent with Enter when the interval ends so."""
    if (
        len(actions) >= 2
        and actions[-1].kind == "hotkey"
        and actions[-1].keys == ["enter"]
        and actions[-2].kind == "type"
    ):
        return (actions[-2].text or "").strip() or None
    return None


def report_metadata(
    interval: Interval, frames: SessionFrames, main: FrameRef | None, piece: IntervalSlice
) -> EpisodeEvidence:
    """What a report needs to show an episode beside its frames (frames named inside the session)."""

    def rel(ref: FrameRef | None) -> str | None:
        return frames.relative(ref) if ref is not None else None

    return EpisodeEvidence(
        session=interval.session_id,
        session_path=interval.session_path,
        interval=interval.index,
        start=interval.start,
        end=interval.end,
        cut=piece.cut_reason,
        windows=interval.windows,
        apps=interval.apps,
        frames=[
            EvidenceFrame(path=frames.relative(f), t=f.t, width=f.width, height=f.height, reason=f.reason)
            for f in interval.frames
        ],
        main_frame=rel(main),
        actions=[_action_row(a, rel) for a in interval.actions],
        ocr=interval.screen_words,
        task=piece.task,
    )


def _action_row(action: Action, rel: Callable[[FrameRef | None], str | None]) -> EvidenceAction:
    """x, y are virtual-screen pixels; frame_x, frame_y the same point on the frame before."""
    frame_x, frame_y, frame_x2, frame_y2 = None, None, None, None
    if action.x is not None and action.y is not None and action.frame_before is not None:
        frame_x, frame_y = action.frame_before.to_frame(action.x, action.y)
    if action.x2 is not None and action.y2 is not None and action.frame_before is not None:
        frame_x2, frame_y2 = action.frame_before.to_frame(action.x2, action.y2)
    return EvidenceAction(
        kind=action.kind,
        t=action.t,
        x=action.x,
        y=action.y,
        target=action.target,
        frame_before=rel(action.frame_before),
        frame_after=rel(action.frame_after),
        frame_x=frame_x,
        frame_y=frame_y,
        x2=action.x2,
        y2=action.y2,
        frame_x2=frame_x2,
        frame_y2=frame_y2,
        text=action.text,
        title=action.title,
        shortcut=action.shortcut,
        keys=action.keys,
        dx=action.dx,
        dy=action.dy,
    )
