#!/usr/bin/env python3
"""Record the bundled sample session: a scripted scenario on a private Xvfb (1024x768) with
openbox, two real xterms driven by xdotool (typed shell commands with Enter, a typo corrected
with backspace, clicks that move the focus, a line of output selected with a triple click and
copied with ctrl+shift+c, a note typed in a second window with the copied text pasted into it
with ctrl+shift+v), recorded by record.py with a task label. The session lands in examples/sessions/<id>/ (or --out).

    python scripts/record_demo.py [--out examples/sessions] [--keep-old]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.x11 import XServer, wait_for  # noqa: E402
from toolbox.core.session import read_session  # noqa: E402

# xterm as GNOME Terminal and others bind it: ctrl+shift+c / ctrl+shift+v copy to and paste from the CLIPBOARD
CLIPBOARD_KEYS = (
    "XTerm*VT100.translations: #override \\n"
    "Ctrl Shift <Key>C: copy-selection(CLIPBOARD) \\n"
    "Ctrl Shift <Key>V: insert-selection(CLIPBOARD)"
)
TASK = "Make a folder with a greeting file, check what it contains, and note the result"
LIMIT = 2_000_000


def type_line(xs: XServer, text: str, typo: tuple[int, str] | None = None) -> None:
    """Type a line like a person would (a few tens of ms per key), optionally making a typo at
    position i (typing the wrong text, pausing, erasing it with backspace), then Enter."""
    if typo is not None:
        i, wrong = typo
        xs.xdotool("type", "--delay", "70", text[:i] + wrong)
        time.sleep(0.8)
        xs.xdotool("key", "--delay", "120", *["BackSpace"] * len(wrong))
        time.sleep(0.3)
        xs.xdotool("type", "--delay", "70", text[i:])
    else:
        xs.xdotool("type", "--delay", "70", text)
    time.sleep(0.4)
    xs.xdotool("key", "Return")
    time.sleep(1.5)  # let the command run and the 'after' frame settle


def click(xs: XServer, x: int, y: int) -> None:
    xs.xdotool("mousemove", "--sync", str(x), str(y))
    time.sleep(0.3)
    xs.xdotool("click", "1")
    time.sleep(1.0)


def copy_line(xs: XServer, x: int, y: int) -> None:
    """Select a terminal line with a triple click and copy it with ctrl+shift+c."""
    xs.xdotool("mousemove", "--sync", str(x), str(y))
    time.sleep(0.3)
    xs.xdotool("click", "--repeat", "3", "--delay", "90", "1")
    time.sleep(0.6)
    xs.xdotool("key", "ctrl+shift+c")
    time.sleep(1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "examples" / "sessions")
    ap.add_argument("--keep-old", action="store_true", help="keep other sessions in --out")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="datamakr-demo-"))
    home = work / "home"
    (home / "project").mkdir(parents=True)
    rc = 1
    with XServer(1024, 768) as xs:
        shell_cmd = ["bash", "--noprofile", "--norc"]
        env_prefix = ["env", f"HOME={home}", "PS1=\\w\\$ ", "TERM=xterm"]
        xs.spawn(
            [
                "xterm",
                "-T",
                "shell - ~/project",
                "-geometry",
                "78x22+8+8",
                "-fa",
                "DejaVu Sans Mono",
                "-fs",
                "12",
                "-bg",
                "white",
                "-fg",
                "black",
                "-xrm",
                "XTerm*allowTitleOps: false",
                "-xrm",
                CLIPBOARD_KEYS,
                "-e",
                *env_prefix,
                *shell_cmd,
            ],
            cwd=home / "project",
        )
        xs.spawn(
            [
                "xterm",
                "-T",
                "notes.txt - cat",
                "-geometry",
                "60x12+440+470",
                "-fa",
                "DejaVu Sans Mono",
                "-fs",
                "12",
                "-bg",
                "lightyellow",
                "-fg",
                "black",
                "-xrm",
                "XTerm*allowTitleOps: false",
                "-xrm",
                CLIPBOARD_KEYS,
                "-e",
                "sh",
                "-c",
                f"cat > {home}/notes.txt",
            ]
        )
        for title in ("shell - ~/project", "notes.txt - cat"):
            wait_for(
                lambda t=title: xs.run("xdotool", "search", "--name", f"^{t}$", check=False).split(),
                what=f"window {title!r}",
            )
        shell = xs.run("xdotool", "search", "--name", "^shell - ~/project$").split()[0]
        xs.focus(shell)
        time.sleep(1.0)

        raw = work / "sessions"
        rec = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "record.py"),
                "--out",
                str(raw),
                "--task",
                TASK,
                "--frame-format",
                "webp",
                "--full",
                "--no-status",
            ],
            env=xs.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = rec.stdout.readline()
            if "recording to" not in line:
                raise RuntimeError(f"record.py did not start: {line!r} {rec.stderr.read()!r}")
            print(line.strip())
            time.sleep(1.0)
            click(xs, 300, 200)  # click into the shell window
            type_line(xs, "mkdir -p greetings && cd greetings")
            type_line(xs, 'echo "Hello, world" > hello.txt')
            type_line(xs, "cat hello.txt", typo=(4, "hlel"))
            copy_line(xs, 60, 101)  # the output line "Hello, world"
            type_line(xs, "ls -l")
            click(xs, 700, 600)  # focus moves to the notes window
            xs.xdotool("type", "--delay", "70", "greetings/hello.txt says: ")
            time.sleep(0.4)
            xs.xdotool("key", "ctrl+shift+v")  # pastes "Hello, world" and the line's end
            time.sleep(1.5)
            click(xs, 300, 120)  # back to the shell
            type_line(xs, "wc -c hello.txt")
            time.sleep(1.0)
        finally:
            rec.send_signal(signal.SIGINT)
            out, err = rec.communicate(timeout=60)
        print(out.strip())
        if rec.returncode != 0:
            print(err, file=sys.stderr)
            return rec.returncode

    session_dir = next(raw.iterdir())
    session = read_session(session_dir)
    size = sum(f.stat().st_size for f in session_dir.rglob("*") if f.is_file())
    print(f"{len(session.events)} events, {sum(e.type == 'frame' for e in session.events)} frames, {size / 1e6:.2f} MB")
    if size > LIMIT:
        print(f"record_demo.py: the session is {size} bytes, over the {LIMIT} byte budget", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.keep_old:
        for old in args.out.iterdir():
            if (old / "session.json").exists():
                shutil.rmtree(old)
    target = args.out / session_dir.name
    shutil.copytree(session_dir, target)
    for path in [target, *target.rglob("*")]:  # shareable sample: readable by all in the repo
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(work)
    print(f"sample session: {target}")
    rc = 0
    return rc


if __name__ == "__main__":
    sys.exit(main())
