"""Build the evidence of every interval of a session: actions bound to the frames before and
after them, the text under the pointer, what each action changed on the screen, typed text, and
the metadata a report needs. This is what a transcriber turns into episodes.

Time: an action's after-frame is the recorder's settled frame for it (`frame_after`), unless that
was taken once the next action had begun; then, and when none is named, it is the last frame
taken between the action and the next one (or none: the result then claims nothing). An action's
before-frame is never one taken after the action began (a click acts on release, so a grab at
mouse-down is still before it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolbox.activity.actions import ActionSettings, CompiledAction, compile_actions
from toolbox.activity.intervals import IntervalSettings, IntervalSlice, cut_intervals
from toolbox.activity.models import Action, FrameRef, Interval
from toolbox.activity.screen import ObservationLimits, observation, readable, target_at
from toolbox.activity.session_frames import RegionMode, SessionFrames, session_frames
from toolbox.activity.titles import short_title
from toolbox.core.models import EpisodeEvidence, EvidenceAction, EvidenceFrame
from toolbox.core.session import Click, Key, Marker, Scroll, Session, Window
from toolbox.ocr_engines.runner import OcrRequest, OcrRunner
from toolbox.ocr_engines.words import OcrWord

POINTER_KINDS = ("click", "double_click", "right_click", "drag", "scroll")
ON_RELEASE = ("click", "double_click", "right_click")  # act when the button goes up
# after these markers the screen may show anything (paused, an excluded window): no after-frame
# of an action before them is looked for after them
SCREEN_UNSEEN = ("pause", "redacted")
COPIED_CHARS = 300  # most characters of copied text a copy's result quotes (a paste carries it all)


@dataclass
class EvidenceSettings:
    intervals: IntervalSettings
    actions: ActionSettings
    region: RegionMode = "window"
    result: ObservationLimits = field(default_factory=ObservationLimits)  # what an action's result shows
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
    hotkeys = [session.meta.recorder.get(name) or "" for name in ("pause_hotkey", "stop_hotkey")]
    actions = compile_actions(session.events, settings.actions, recorder_hotkeys=hotkeys)
    bound = _bind_all(actions, session, frames, words, settings)
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
        out.append(_interval(session, piece, frames, words, bound, start_title, start_app))
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
        failure = f"{type(exc).__name__}: {str(exc)[:160]}"
        problem(f"{frames.session.path}: OCR failed ({failure}); no screen text for this session")
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
    bound: dict[int, Action],
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
    actions = [bound[id(c)] for c in piece.actions]
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
    interval.metadata.screens = {  # OCR words are evidence words: the frame's own list, shared
        frames.relative(a.frame_before): words[a.frame_before.path]
        for a in actions
        if a.frame_before is not None and a.frame_before.path in words
    }
    return interval


def _bind_all(
    actions: list[CompiledAction],
    session: Session,
    frames: SessionFrames,
    words: dict[str, list[OcrWord]],
    settings: EvidenceSettings,
) -> dict[int, Action]:
    """Every action of the session with its frames, target and result (keyed by id of the
    compiled action)."""
    events = session.events
    unseen = [e.t for e in events if isinstance(e, Marker) and e.kind in SCREEN_UNSEEN]
    out: dict[int, Action] = {}
    previous: Action | None = None
    for k, compiled in enumerate(actions):
        action = compiled.action.model_copy(deep=True)
        later = [actions[k + 1].action.t] if k + 1 < len(actions) else []
        until = min([*later, *(t for t in unseen if t > action.t)], default=float("inf"))
        action.frame_before = _frame_before(action, getattr(events[compiled.first], "frame_before", None), frames)
        action.frame_after = _frame_after(action, compiled.first, until, events, frames)
        # typing and the Enter that ends it are one change (a transcriber may join them)
        base = previous if previous is not None and _ends_typing(previous, action) else action
        _read(action, base.frame_before, frames, words, settings)
        out[id(compiled)] = previous = action
    return out


def _frame_before(action: Action, named: str | None, frames: SessionFrames) -> FrameRef | None:
    """The recorder's before-frame, unless it was taken after the action began; else the last
    frame taken before it."""
    began = (action.t_end or action.t) if action.kind in ON_RELEASE else action.t
    ref = frames.named(named)
    if ref is not None and ref.t <= began + 1e-6:
        return ref
    return frames.before(action.t)


def _frame_after(action: Action, first: int, until: float, events: list[Any], frames: SessionFrames) -> FrameRef | None:
    """The recorder's settled frame for the action if it was taken before `until` (the next
    action or a pause); else the last frame taken after the action and before `until`."""
    named: str | None = None
    for event in events[first:]:
        if event.t >= until:
            break
        if isinstance(event, (Click, Key, Scroll)) and event.frame_after:
            named = event.frame_after
    ref = frames.named(named)
    if ref is not None and ref.t < until - 1e-6:
        return ref
    return frames.last_between(action.t_end or action.t, until)


def _ends_typing(previous: Action, action: Action) -> bool:
    return (
        action.kind == "hotkey" and action.keys == ["enter"] and previous.kind == "type" and previous.t_end == action.t
    )


def _read(
    action: Action,
    base: FrameRef | None,
    frames: SessionFrames,
    words: dict[str, list[OcrWord]],
    settings: EvidenceSettings,
) -> None:
    """The action's target (the label under the pointer) and result (the screen after it, with
    what changed since `base`), when OCR read the frames."""
    before = words.get(action.frame_before.path, []) if action.frame_before else []
    if action.kind in POINTER_KINDS and action.x is not None and action.y is not None and action.frame_before:
        point = action.frame_before.to_frame(action.x, action.y)
        if action.kind != "scroll":
            reach = round(settings.target_reach * max(action.frame_before.scale, 0.25))
            found = target_at(readable(before), *point, reach=reach)
            action.target, action.target_box = found or (None, None)
    copied = _copied(action)
    after = action.frame_after
    if after is None or after.path not in words:
        action.result = copied
        return
    window = frames.windows.get(after.path)
    seen = frames.windows.get(base.path) if base is not None else None
    before_words = words.get(base.path) if base is not None else None
    if window is None or seen is None or not window.same_window(seen):
        before_words = None  # another window came up: its text is not "what changed"
    y = after.to_frame(action.x, action.y)[1] if action.x is not None and action.y is not None else None
    screen = observation(
        before_words,
        words[after.path],
        short_title(window.title) if window else "",
        settings.result,
        y,
    )
    action.result = f"{copied}\n{screen}" if copied else screen


def _copied(action: Action) -> str | None:
    """What a copy or cut put on the clipboard, as its result says it."""
    if action.shortcut not in ("copy", "cut") or action.text is None:
        return None
    text = action.text if len(action.text) <= COPIED_CHARS else action.text[: COPIED_CHARS - 1] + "…"
    return (
        f"{'Copied' if action.shortcut == 'copy' else 'Cut'} to the clipboard: {json.dumps(text, ensure_ascii=False)}"
    )


def _typed(actions: list[Action]) -> str:
    parts = []
    for action in actions:
        if action.text and (action.kind == "type" or action.shortcut == "paste"):
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
        result=action.result,
        dx=action.dx,
        dy=action.dy,
    )
