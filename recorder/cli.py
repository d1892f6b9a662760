"""record.py's command line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from pydantic import ValidationError

from .config import RecorderConfig
from .core import Recorder
from .status import StatusLine, status_text
from .writer import WriteError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="record.py", description="Record your work at the computer into a session folder.")
    p.add_argument("--out", default="data/sessions", help="folder for sessions (default: data/sessions)")
    p.add_argument("--task", help="what you are about to do (stored as the session's task label)")
    p.add_argument(
        "--exclude-window",
        action="append",
        default=[],
        metavar="REGEX",
        help="while the focused window's title or app matches (case-insensitive search), keep no keys and "
        "no frames, only a 'redacted' marker; repeatable",
    )
    p.add_argument("--frame-format", choices=["webp", "png"], default="webp")
    p.add_argument("--frame-quality", type=int, default=48, help="WebP quality 1-100 (default 48)")
    p.add_argument("--scale", type=float, default=0.75, help="downscale frames by this factor (default 0.75)")
    p.add_argument(
        "--color", action="store_true", help="keep colour (frames are grayscale by default, which OCR reads as well)"
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="colour frames at full size, quality 60: about 52 MB per hour of 1080p browser work instead "
        "of 30 with the defaults (see bench/RESULTS-recorder.md)",
    )
    p.add_argument(
        "--min-frame-interval",
        type=float,
        default=0.3,
        metavar="S",
        help="reuse the last frame if one was taken less than S seconds ago (default 0.3)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=0.5,
        metavar="S",
        help="take the 'after' frame S seconds after an action ends (default 0.5)",
    )
    p.add_argument(
        "--idle",
        type=float,
        default=30.0,
        metavar="S",
        help="input after S seconds of none takes an 'idle_end' frame (default 30)",
    )
    p.add_argument("--pause-hotkey", default="ctrl+alt+p", help="toggle pause (default ctrl+alt+p; '' to disable)")
    p.add_argument("--stop-hotkey", default="ctrl+alt+q", help="stop recording (default ctrl+alt+q; '' to disable)")
    p.add_argument(
        "--no-clipboard",
        dest="clipboard",
        action="store_false",
        help="do not record the text of copies and cuts (recorded by default on X11, like typed text)",
    )
    status = p.add_mutually_exclusive_group()
    status.add_argument(
        "--status", dest="status", action="store_true", default=None, help="always show the status line"
    )
    status.add_argument("--no-status", dest="status", action="store_false", help="never show the status line")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> RecorderConfig:
    if args.full:
        args.color, args.scale, args.frame_quality = True, 1.0, max(args.frame_quality, 60)
    return RecorderConfig(
        out=args.out,
        task=args.task,
        exclude_window=args.exclude_window,
        frame_format=args.frame_format,
        frame_quality=args.frame_quality,
        scale=args.scale,
        gray=not args.color,
        min_frame_interval=args.min_frame_interval,
        settle=args.settle,
        idle=args.idle,
        pause_hotkey=args.pause_hotkey,
        stop_hotkey=args.stop_hotkey,
        clipboard=args.clipboard,
        status=args.status,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = build_config(args)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"]) or "options"
            print(f"record.py: --{where.replace('_', '-')}: {err['msg']}", file=sys.stderr)
        return 2
    os.umask(0o077)  # everything the recorder creates is private

    rec = Recorder(cfg, on_fatal=lambda msg: None)
    try:
        path = rec.start()
    except WriteError as exc:
        print(f"record.py: {exc}; nothing recorded", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - no display, no input access, ...
        print(f"record.py: cannot start recording: {exc}", file=sys.stderr)
        rec.stop()
        return 2

    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, lambda *_: rec.stop_requested.set())
    keys = [f"Ctrl+C or {cfg.stop_hotkey} stops" if cfg.stop_hotkey else "Ctrl+C stops"]
    if cfg.pause_hotkey:
        keys.append(f"{cfg.pause_hotkey} pauses/resumes")
    print(f"recording to {path}  ({'; '.join(keys)})", flush=True)

    show = cfg.status if cfg.status is not None else sys.stdout.isatty()
    line = StatusLine()
    started = time.time()
    while not rec.stop_requested.wait(0.5):
        if show:
            s = rec.summary()
            state = "paused" if rec.paused else ("redacted" if rec.excluded else "recording")
            line.show(
                status_text(state, time.time() - started, s["events"], s["frames"], s["frames_dropped"], s["bytes"])
            )
    line.done()
    rec.stop()
    s = rec.summary()
    if rec.fatal:
        print(f"record.py: {rec.fatal}; recording stopped, what was saved is in {path}", file=sys.stderr)
        return 1
    dropped = f" ({s['frames_dropped']} dropped)" if s["frames_dropped"] else ""
    print(f"saved {path}: {s['events']} events, {s['frames']} frames{dropped}, {s['bytes'] / 1e6:.1f} MB", flush=True)
    return 0
