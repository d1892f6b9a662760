#!/usr/bin/env python3
"""How true the episodes are (issue 11): scripted work with known ground truth, recorded by record.py
under Xvfb and compiled offline by build_data.py (interval_episodes, heuristic transcriber,
tesseract), then scored.

Scenarios (each its own X server, recording and task label):
  browser   Chromium on a localhost page: a parcel list filtered by typing into its search box,
            an item opened that shows a planted delivery code
  clipboard a tracking id copied in Chromium and pasted into Mousepad, saved
  editor    a note typed into Mousepad with corrections (backspace, home, a selection typed over)
  terminal  commands in an xterm shell whose outputs hold planted values
  chat      a localhost page titled like a chat app: a message typed and sent with Enter

Figures (targets from the issue):
  typed-character accuracy  1 - edit distance / length, between the text typed (after
                            corrections, Enter and Tab left out) and the episode's type_text
                            texts (pasted text left out), summed over scenarios (100%)
  later-action results      tool results that show text which first appears on screen only
                            after a later step (0)
  key facts in their step   planted facts found in the result of the step that revealed
                            them (>= 0.95)
  result noise              share of result tokens that are neither a token of the text known
                            to be on screen (pages, files, outputs, typed text, the apps' menus)
                            nor one edit from one (4+ letters) nor a word the compiler itself
                            writes (words of the string literals in toolbox/transcribers and
                            toolbox/activity) (< 2%)
  answers                   final assistant turns that contain the planted answer and are not a
                            step log ("Done: clicked ...") (all)

    python bench/fidelity.py                 # record all scenarios into bench/_work/fidelity, compile, score
    python bench/fidelity.py --reuse         # compile and score the recordings made last time
    python bench/fidelity.py --only chat     # record (or with --reuse, score) one scenario
    python bench/fidelity.py --label after   # the row's name in bench/RESULTS-fidelity.md
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlparse

import mss
from pydantic import BaseModel, Field
from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.x11 import XServer, wait_for  # noqa: E402
from toolbox.core.models import Episode, LoggedEpisode  # noqa: E402

WORK = ROOT / "bench" / "_work" / "fidelity"
RESULTS = ROOT / "bench" / "RESULTS-fidelity.md"
SCREEN = (1280, 800)
MARK = (255, 0, 255)  # a page's top-left pixel: where its viewport is on the screen
NOBODY = 65534  # the user id the editor runs as when the bench runs as root
STEP_LOG = re.compile(r"^Done\b|clicked \(\d+, \d+\)|entered \"|typed \"|pressed \w")
MOUSEPAD_UI = (
    "File Edit Search View Document Help Mousepad Warning: you are using the root account. You may harm your system."
)


class Step(BaseModel):
    """One thing the person did, as the episode should show it."""

    what: str
    kind: Literal["click", "type", "keys"]
    x: int | None = None
    y: int | None = None
    text: str | None = None  # type: the text it produced (corrections applied, no Enter)
    keys: list[str] = Field(default_factory=list)  # keys: the chord, e.g. ["ctrl", "v"]
    shows: list[str] = Field(default_factory=list)  # key facts the step's result must show
    new: list[str] = Field(default_factory=list)  # text first on screen after this step


class Truth(BaseModel):
    scenario: str
    session: str = ""  # the session folder's name
    task: str
    steps: list[Step] = Field(default_factory=list)
    typed: str = ""  # everything produced by typing, in order, Enter as "\n"
    clipboard: list[str] = Field(default_factory=list)
    answer: list[str]  # strings the final answer must contain
    sent: str | None = None  # a message sent with Enter: the episode may give it as the answer, not as a call
    screen_text: str = ""  # every text the scenario put on the screen


# -- the person ----------------------------------------------------------------------------------


class Person:
    """Drives the apps through xdotool like a person would (a few tens of ms per key, pauses
    between steps) and writes down each step in the truth."""

    def __init__(self, xs: XServer, truth: Truth) -> None:
        self.xs, self.truth = xs, truth

    def click(self, x: int, y: int, what: str, wait: float = 1.2, **step) -> None:
        """`wait`: seconds before the next step (less than the recorder's settle time: the next
        step starts before the screen settled, as when a person clicks and types at once)."""
        self.xs.xdotool("mousemove", "--sync", str(x), str(y))
        time.sleep(0.3)
        self.xs.xdotool("click", "1")
        self.truth.steps.append(Step(what=what, kind="click", x=x, y=y, **step))
        time.sleep(wait)

    def type(self, keys: list[str | tuple[str, ...]], produced: str, what: str, enter: bool = False, **step) -> None:
        """`keys`: text to type, or tuples of key names (corrections); `produced`: the resulting text."""
        for part in keys:
            if isinstance(part, str):
                self.xs.xdotool("type", "--delay", "70", "--", part)
            else:
                self.xs.xdotool("key", "--delay", "120", *part)
            time.sleep(0.25)
        if enter:
            time.sleep(0.3)
            self.xs.xdotool("key", "Return")
        self.truth.typed += produced + ("\n" if enter else "")
        self.truth.steps.append(Step(what=what, kind="type", text=produced, **step))
        time.sleep(1.5)

    def keys(self, chord: str, what: str, **step) -> None:
        self.xs.xdotool("key", chord)
        self.truth.steps.append(Step(what=what, kind="keys", keys=chord.lower().split("+"), **step))
        time.sleep(1.0)


class Site:
    """Pages on 127.0.0.1; a page reports what the person did there through GET /event?..."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.events: list[dict[str, list[str]]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                if url.path == "/event":
                    site.events.append(parse_qs(url.query))
                body = site.pages.get(url.path, "").encode()
                self.send_response(200 if body or url.path == "/event" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()


def page(title: str, body: str, script: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title><style>"
        "body{margin:0;font:18px 'DejaVu Sans',sans-serif;color:#111}"
        "#mark{position:absolute;left:0;top:0;width:4px;height:4px;background:#f0f;z-index:9}"
        f"</style></head><body>{body}<div id=mark></div><script>{script}</script></body></html>"
    )


def viewport(xs: XServer) -> tuple[int, int]:
    """Where the browser page's (0, 0) is on the screen: its MARK pixel."""

    def find() -> tuple[int, int] | None:
        with mss.MSS() as sct:
            shot = sct.grab(sct.monitors[1])
        pixels = shot.pixels
        for y in range(0, shot.height, 1):
            row = pixels[y]
            for x in range(shot.width):
                if row[x] == MARK:
                    return x, y
        return None

    return wait_for(find, timeout=20, what="the page to render")


def chromium(xs: XServer, url: str, title: str, work: Path, geometry: tuple[int, int, int, int]) -> str:
    profile = work / "chromium"
    shutil.rmtree(profile, ignore_errors=True)
    return xs.chromium(url, "^" + re.escape(title), profile, geometry)


def mousepad(xs: XServer, path: Path, work: Path, geometry: tuple[int, int, int, int]) -> str:
    """Mousepad editing `path`; as a person's editor runs, not as root (as root it shows a warning
    bar across its window, a line of small white-on-grey text no person's screen has)."""
    wid = xs.mousepad(path, work / "home", user=NOBODY if os.geteuid() == 0 else None)
    x, y, w, h = geometry
    xs.xdotool("windowsize", "--sync", wid, str(w), str(h))
    xs.xdotool("windowmove", "--sync", wid, str(x), str(y))
    time.sleep(0.5)
    return wid


@contextlib.contextmanager
def recording(xs: XServer, truth: Truth, out: Path) -> Iterator[None]:
    """record.py with the task label, from before the first step until after the last."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "record.py"), "--out", str(out), "--task", truth.task, "--no-status"],
        env=xs.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if "recording to" not in line:
        proc.kill()
        raise RuntimeError(f"record.py did not start: {line!r} {proc.stderr.read()!r}")
    truth.session = Path(line.split("recording to ", 1)[1].split()[0]).name
    time.sleep(1.0)
    try:
        yield
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"record.py failed: {err}")


# -- scenarios -------------------------------------------------------------------------------------

CITIES = ["Oslo", "Bergen", "Paris", "Berlin", "Madrid", "Lisbon", "Bern", "Vienna", "Prague", "Dublin", "Athens"]
CITIES.append("Warsaw")
PARCELS = {city: f"P-{1031 + 7 * i}" for i, city in enumerate(CITIES)}
TRACKER = page(
    "Parcels - Tracker",
    "<input id=q placeholder='Search parcels' style='position:absolute;left:20px;top:20px;width:300px;"
    "font-size:18px'><span id=count style='position:absolute;left:350px;top:24px'>Showing 12 of 12</span>"
    "<ul id=list style='position:absolute;left:20px;top:70px;margin:0;padding:0;list-style:none'>"
    + "".join(
        f"<li data-city={c} style='height:34px;line-height:34px;cursor:pointer'>{c} parcel {p}</li>"
        for c, p in PARCELS.items()
    )
    + "</ul><div id=detail style='position:absolute;left:20px;top:70px;display:none'><h2 id=dt></h2>"
    "<p>Delivery code: <b id=code></b></p><p>Status: held at depot</p></div>",
    "q.oninput=()=>{let n=0;for(const li of list.children){const show=li.dataset.city.toLowerCase()"
    ".includes(q.value.toLowerCase());li.style.display=show?'':'none';n+=show}"
    "count.textContent=`Showing ${n} of 12`};"
    "list.onclick=e=>{const li=e.target.closest('li');if(!li)return;const city=li.dataset.city;"
    "list.style.display='none';count.style.display='none';detail.style.display='block';"
    "dt.textContent='Parcel to '+city;code.textContent=city=='Bergen'?'KX-5521':'KX-1000';"
    "fetch('/event?opened='+city)}",
)
ORDER = page(
    "Order 4471 - Shop",
    "<h1 style='font-size:24px;margin:20px'>Order 4471</h1><p style='margin:20px'>Three boxes, shipped Monday.</p>"
    "<p style='margin:20px'>Tracking id: <input id=t readonly value='ZX-9048-QT' "
    "style='position:absolute;left:140px;top:150px;width:200px;font-size:18px'></p>",
)
CHAT = page(
    "#general | Team Chat",
    "<div style='position:absolute;left:0;top:0;width:160px;bottom:0;background:#3f0e40;color:#fff;"
    "padding:20px 10px'># general<br># releases</div><div id=log style='position:absolute;left:190px;top:20px'>"
    "<p><b>Ana</b>: is the build green yet?</p></div>"
    "<input id=msg placeholder='Message #general' style='position:absolute;left:190px;top:420px;width:500px;"
    "font-size:18px'>",
    "msg.onkeydown=e=>{if(e.key!=='Enter'||!msg.value)return;const p=document.createElement('p');"
    "p.innerHTML='<b>You</b>: '+msg.value;log.appendChild(p);fetch('/event?sent='+encodeURIComponent(msg.value));"
    "msg.value='';setTimeout(()=>{const r=document.createElement('p');"
    "r.innerHTML='<b>Ana</b>: great, merging PR-6120 now';log.appendChild(r)},200)}",
)
PAGES = {"/tracker": TRACKER, "/order": ORDER, "/chat": CHAT}


def visible_text(html: str) -> str:
    """The page's words (tags and script left out)."""
    html = re.sub(r"<script>.*?</script>|<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def browser(xs: XServer, site: Site, work: Path, sessions: Path) -> Truth:
    truth = Truth(
        scenario="browser",
        task="Find the delivery code of the parcel going to Bergen",
        answer=["KX-5521"],
        screen_text=visible_text(TRACKER) + " Showing 3 of 12 Parcel to Bergen KX-5521",
    )
    chromium(xs, f"{site.url}/tracker", "Parcels - Tracker", work, (0, 0, 900, 700))
    left, top = viewport(xs)
    me = Person(xs, truth)
    with recording(xs, truth, sessions):
        me.click(left + 150, top + 32, "click the search box")
        me.type(["ber"], "ber", "filter the list", shows=["3 of 12", "Berlin"], new=["3 of 12"])
        me.click(
            left + 80,
            top + 70 + 17,
            "open Bergen",
            shows=["KX-5521", "held at depot"],
            new=["KX-5521", "held at depot"],
        )
    if {"opened": ["Bergen"]} not in site.events:
        raise RuntimeError(f"browser: the Bergen parcel was not opened ({site.events})")
    return truth


def clipboard(xs: XServer, site: Site, work: Path, sessions: Path) -> Truth:
    truth = Truth(
        scenario="clipboard",
        task="Put the tracking id of order 4471 into reply.txt",
        answer=["ZX-9048-QT"],
        clipboard=["ZX-9048-QT"],
        screen_text=visible_text(ORDER) + " ZX-9048-QT reply.txt " + MOUSEPAD_UI,
    )
    chromium(xs, f"{site.url}/order", "Order 4471", work, (0, 0, 620, 380))
    left, top = viewport(xs)
    reply = work / "reply.txt"
    reply.write_text("")
    mousepad(xs, reply, work, (640, 330, 620, 420))
    xs.focus(xs.window("^Order 4471"))
    me = Person(xs, truth)
    with recording(xs, truth, sessions):
        me.click(left + 240, top + 162, "click the tracking id")
        me.keys("ctrl+a", "select it")
        me.keys("ctrl+c", "copy it")
        me.click(950, 560, "click into the editor", new=["Edit Search View"])
        me.type(["Tracking id: "], "Tracking id: ", "type the label")
        me.keys("ctrl+v", "paste the id", shows=["ZX-9048-QT"])
        me.keys("ctrl+s", "save")
    wait_for(lambda: reply.read_text() == "Tracking id: ZX-9048-QT", what="reply.txt saved", timeout=10)
    return truth


def editor(xs: XServer, site: Site, work: Path, sessions: Path) -> Truth:
    notes = work / "notes.txt"
    notes.write_text("")
    line1, line2 = "Note: Meeting moved to Thursday", "Room: C-204"
    truth = Truth(
        scenario="editor",
        task="Note in notes.txt that the meeting moved to Thursday, room C-204",
        answer=["Thursday", "C-204"],
        screen_text=f"{line1} {line2} notes.txt " + MOUSEPAD_UI,
    )
    mousepad(xs, notes, work, (100, 60, 900, 560))
    me = Person(xs, truth)
    with recording(xs, truth, sessions):
        me.click(500, 300, "click into the editor", wait=0.3)
        me.type(
            ["Meeting moved to Thrus", ("BackSpace",) * 3, "ursday", ("Home",), "Note: ", ("End",)],
            line1,
            "write the first line (a typo erased, a prefix added at the start)",
            enter=True,
            shows=["Thursday"],
            new=["Thursday"],
        )
        me.type(
            ["Room: C-240", ("shift+Left", "shift+Left"), "04"],
            line2,
            "write the room (the wrong digits selected and typed over)",
            shows=["C-204"],
            new=["C-204"],
        )
        me.keys("ctrl+s", "save")
    wait_for(lambda: notes.read_text() == f"{line1}\n{line2}", what="notes.txt saved", timeout=10)
    return truth


def terminal(xs: XServer, site: Site, work: Path, sessions: Path) -> Truth:
    box = work / "release"
    box.mkdir(parents=True, exist_ok=True)
    (box / "version.txt").write_text("release 4.2.7-rc3\n")
    (box / "app.log").write_text("12:00:01 starting\n12:00:05 ready\n12:00:07 shutdown complete code=HW-7734\n")
    (box / "deploy-notes.md").write_text("notes\n")
    truth = Truth(
        scenario="terminal",
        task="Find out which release is installed in ~/release",
        answer=["4.2.7-rc3"],
        screen_text="$ app.log deploy-notes.md version.txt release 4.2.7-rc3 12:00:07 shutdown complete "
        "code=HW-7734 ls tail -n 1 cat",
    )
    xs.spawn(
        [
            "xterm",
            "-T",
            "dana@build: ~/release",
            "-geometry",
            "90x24+0+0",
            "-fa",
            "DejaVu Sans Mono",
            "-fs",
            "13",
            "-bg",
            "white",
            "-fg",
            "black",
            "-xrm",
            "XTerm*allowTitleOps: false",
            "-e",
            "env",
            "PS1=$ ",
            "bash",
            "--noprofile",
            "--norc",
        ],
        cwd=box,
    )
    xs.focus(xs.window("^dana@build"))
    me = Person(xs, truth)
    with recording(xs, truth, sessions):
        me.click(300, 200, "click into the terminal", wait=0.3)
        me.type(["ls"], "ls", "list the files", enter=True, shows=["deploy-notes.md"], new=["deploy-notes.md"])
        me.type(
            ["tail -n 1 app.log"],
            "tail -n 1 app.log",
            "read the last log line",
            enter=True,
            shows=["HW-7734"],
            new=["HW-7734", "tail -n 1"],
        )
        me.type(
            ["cat vre", ("BackSpace", "BackSpace"), "ersion.txt"],
            "cat version.txt",
            "read the version (a typo erased)",
            enter=True,
            shows=["4.2.7-rc3"],
            new=["4.2.7-rc3", "cat version"],
        )
    return truth


def chat(xs: XServer, site: Site, work: Path, sessions: Path) -> Truth:
    message = "The build is green, shipping 4.2.7 today"
    truth = Truth(
        scenario="chat",
        task="Tell the team in #general that the build is green",
        answer=["shipping 4.2.7 today"],
        sent=message,
        screen_text=visible_text(CHAT) + f" You: {message} Ana: great, merging PR-6120 now",
    )
    chromium(xs, f"{site.url}/chat", "#general | Team Chat", work, (0, 0, 900, 560))
    left, top = viewport(xs)
    me = Person(xs, truth)
    with recording(xs, truth, sessions):
        me.click(left + 400, top + 432, "click the message box", wait=0.3)
        me.type(
            ["The build is gren", ("BackSpace",), "en, shipping 4.2.7 today"],
            message,
            "write and send the message",
            enter=True,
            new=["shipping 4.2.7", "PR-6120"],  # no fact to show: the sent message is the answer
        )
    if {"sent": [message]} not in site.events:
        raise RuntimeError(f"chat: the message was not sent ({site.events})")
    return truth


SCENARIOS: dict[str, Callable[[XServer, Site, Path, Path], Truth]] = {
    "browser": browser,
    "clipboard": clipboard,
    "editor": editor,
    "terminal": terminal,
    "chat": chat,
}


def record(names: list[str]) -> None:
    sessions = WORK / "sessions"
    for name in names:
        truth_file = WORK / "truth" / f"{name}.json"
        if truth_file.exists():
            old = Truth.model_validate_json(truth_file.read_text())
            shutil.rmtree(sessions / old.session, ignore_errors=True)
        work = WORK / "apps" / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        site = Site(PAGES)
        try:
            with XServer(*SCREEN) as xs:
                started = time.time()
                truth = SCENARIOS[name](xs, site, work, sessions)
        finally:
            site.close()
        truth_file.parent.mkdir(parents=True, exist_ok=True)
        truth_file.write_text(truth.model_dump_json(indent=1))
        print(f"recorded {name}: {truth.session} ({time.time() - started:.0f} s)", flush=True)


# -- compile and score ---------------------------------------------------------------------------


def compile_sessions() -> list[Episode]:
    out = WORK / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = out / "fidelity.yaml"
    config.write_text(
        json.dumps(
            {
                "datasets": [{"name": "sessions", "path": str(WORK / "sessions")}],
                "tasks": [{"name": "interval_episodes", "transcriber": "heuristic", "ocr": "tesseract"}],
                "format": "openai",
                "output": str(out / "fidelity.jsonl"),
                "seed": 0,
                "cache_dir": str(WORK / "cache"),
            }
        )
    )
    cmd = [sys.executable, str(ROOT / "build_data.py"), "--config", str(config), "--report", str(out / "report.html")]
    subprocess.run([*cmd, "-q"], cwd=ROOT, check=True)
    rows = [LoggedEpisode.model_validate_json(line) for line in (out / "fidelity.jsonl.episodes.jsonl").open()]
    return [row.episode for row in rows if row.episode is not None and row.status == "kept"]


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


def shows(result: str, text: str) -> bool:
    """`text` is in `result`, allowing one misread letter in texts of 6 or more (OCR reads
    "C-2O4" for "C-204" now and then: the fact is still there)."""
    result, text = norm(result), norm(text)
    if text in result:
        return True
    if len(text) < 6:
        return False
    return any(
        Levenshtein.distance(text, window, score_cutoff=1) <= 1 and digits(window) == digits(text)
        for n in (len(text) - 1, len(text), len(text) + 1)
        for i in range(0, max(1, len(result) - n + 1))
        for window in (result[i : i + n],)
    )


def digits(text: str) -> str:
    """A misread letter keeps a fact; a different digit is another fact ("2 of 12" is not
    "3 of 12")."""
    return "".join(c for c in text if c.isdigit())


def trim(word: str) -> str:
    return word.strip(".,;:!?\"'()[]{}<>`*").casefold()


def compiler_words() -> set[str]:
    """Words the compiler writes itself ("No new text on the screen."): those of the string
    literals in the transcribers and activity code."""
    words: set[str] = set()
    for path in [*(ROOT / "toolbox" / "transcribers").glob("*.py"), *(ROOT / "toolbox" / "activity").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words.update(trim(w) for w in node.value.split())
    return words


def label(word: str, vocab: set[str]) -> str:
    """word | misread | noise (the same rule as bench/noise_bench.py)."""
    t = trim(word)
    if not t or t in vocab:
        return "word"
    if len(t) >= 4 and any(Levenshtein.distance(t, v, score_cutoff=1) <= 1 for v in vocab):
        return "misread"
    if any(t in v or v in t for v in vocab if len(v) >= 4 and len(t) >= 3):  # joined or split tokens
        return "word"
    return "noise"


def call_strings(arguments: dict) -> list[str]:
    out: list[str] = []
    for value in arguments.values():
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out += [str(v) for v in value]
    return out


def matches(step: Step, name: str, arguments: dict, truth: Truth) -> bool:
    strings = call_strings(arguments)
    if step.kind == "click":
        return (
            "click" in name
            and abs(arguments.get("x", -99) - step.x) <= 3
            and abs(arguments.get("y", -99) - step.y) <= 3
        )
    if step.kind == "type":
        typed = [s.replace("\n", "") for s in strings if name == "type_text"]
        return any(s and (s in step.text or step.text in s) and s not in truth.clipboard for s in typed)
    lowered = {s.lower() for s in strings}
    if step.keys == ["ctrl", "v"] and (name == "paste" or any(s in truth.clipboard for s in strings)):
        return True
    return set(step.keys) <= lowered


def align(episode: Episode, truth: Truth) -> list[tuple[int | None, str, dict, str]]:
    """(step index, call name, arguments, result) per tool call. A call that matches no later
    step belongs to the step before it (a split typing run, its Enter)."""
    results = {t.tool_call_id: t.content or "" for t in episode.turns if t.role == "tool"}
    out: list[tuple[int | None, str, dict, str]] = []
    current: int | None = None
    for turn in episode.turns:
        for call in turn.tool_calls:
            start = 0 if current is None else current
            for i in range(start, len(truth.steps)):
                if i != current and matches(truth.steps[i], call.name, call.arguments, truth):
                    current = i
                    break
            out.append((current, call.name, call.arguments, results.get(call.id, "")))
    return out


class Score(BaseModel):
    scenario: str
    typed_chars: int
    typed_errors: int
    results: int
    later: int
    later_examples: list[str]
    facts: int
    facts_found: int
    missing: list[str]
    tokens: int
    noise: int
    noise_examples: list[str]
    answer_ok: bool
    answer: str
    answer_source: str | None
    paste_carries_value: bool | None


def score(episode: Episode | None, truth: Truth, own_words: set[str]) -> Score:
    calls = align(episode, truth) if episode else []
    final = ""
    if episode and episode.turns and episode.turns[-1].role == "assistant" and not episode.turns[-1].tool_calls:
        final = episode.turns[-1].content or ""
    expected = re.sub(r"[\n\t]", "", truth.typed)
    got = "".join(
        a.get("text", "")
        for _, n, a, _ in calls
        if n == "type_text" and a.get("text", "").strip() not in truth.clipboard
    )
    if truth.sent and final.strip() == truth.sent:  # typed, and given as the answer (sent_message)
        got += truth.sent
    got = re.sub(r"[\n\t]", "", got)
    later, later_examples = 0, []
    for step, _, _, result in calls:
        shown = [s for j, st in enumerate(truth.steps) if step is None or j > step for s in st.new if shows(result, s)]
        if shown:
            later += 1
            later_examples.append(f"{shown[0]!r} in the result of step {step}")
    facts = [(j, s) for j, st in enumerate(truth.steps) for s in st.shows]
    found = [(j, s) for j, s in facts if any(step == j and shows(r, s) for step, _, _, r in calls)]
    vocab = {trim(w) for w in f"{truth.screen_text} {truth.typed} {MOUSEPAD_UI}".split()} | own_words
    labels = [(w, label(w, vocab)) for _, _, _, r in calls for w in r.split()]
    noise = [w for w, kind in labels if kind == "noise"]
    answer_ok = bool(final) and all(shows(final, a) for a in truth.answer) and not STEP_LOG.search(final)
    paste = None
    if truth.clipboard:
        paste = any(v in s for _, _, a, _ in calls for s in call_strings(a) for v in truth.clipboard)
    return Score(
        scenario=truth.scenario,
        typed_chars=len(expected),
        typed_errors=min(len(expected), Levenshtein.distance(expected, got)),
        results=len(calls),
        later=later,
        later_examples=later_examples,
        facts=len(facts),
        facts_found=len(found),
        missing=[f"{s!r} (step {j}: {truth.steps[j].what})" for j, s in facts if (j, s) not in found],
        tokens=len(labels),
        noise=len(noise),
        noise_examples=noise[:12],
        answer_ok=answer_ok,
        answer=final[:160],
        answer_source=(episode.metadata.get("answer_source") if episode else None),
        paste_carries_value=paste,
    )


def git_version() -> str:
    run = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    return run("rev-parse", "--short", "HEAD") + (
        "+changes" if run("status", "--porcelain", "--", "toolbox", "recorder") else ""
    )


def write_results(scores: list[Score], label_: str, load: tuple[str, str], seconds: float) -> None:
    chars = sum(s.typed_chars for s in scores)
    errors = sum(s.typed_errors for s in scores)
    facts = sum(s.facts for s in scores)
    tokens = sum(s.tokens for s in scores)
    row = (
        f"| {label_} | {git_version()} | {datetime.now(UTC):%Y-%m-%d} | {1 - errors / max(chars, 1):.1%} | "
        f"{sum(s.later for s in scores)} of {sum(s.results for s in scores)} | "
        f"{sum(s.facts_found for s in scores) / max(facts, 1):.2f} ({sum(s.facts_found for s in scores)}/{facts}) | "
        f"{sum(s.noise for s in scores) / max(tokens, 1):.1%} ({sum(s.noise for s in scores)}/{tokens}) | "
        f"{sum(s.answer_ok for s in scores)} of {len(scores)} | {load[0]} / {load[1]} |"
    )
    rows, notes = [], []
    if RESULTS.exists():  # keep the rows of earlier runs (before / after) and the notes written by hand
        text = RESULTS.read_text()
        if text.count("<!-- notes -->") == 2:
            notes = ["<!-- notes -->", text.split("<!-- notes -->")[1].strip("\n"), "<!-- notes -->", ""]
        if "<!-- runs -->" in text:
            block = text.split("<!-- runs -->")[1]
            rows = [
                r for r in block.strip().splitlines() if r.startswith("| ") and not r.startswith(("| run ", "| ---"))
            ]
            rows = [r for r in rows if not r.startswith(f"| {label_} |")]
    rows.append(row)
    lines = [
        "# Fidelity of episodes (bench/fidelity.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. Five scripted "
        "scenarios under Xvfb 1280x800 with openbox (see the script's docstring), recorded by record.py with its "
        "defaults and compiled by build_data.py (interval_episodes, heuristic transcriber, tesseract, redaction on).",
        "",
        "Targets: typed characters 100%; results showing a later action's text 0; key facts in the result of the "
        "step that revealed them >= 0.95; result noise < 2%; answers all.",
        "",
        "<!-- runs -->",
        "| run | code | date | typed chars | later-action results | key facts in their step | result noise | "
        "answers | load (start / end) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *rows,
        "<!-- runs -->",
        "",
        *notes,
        f"## Last run: {label_} ({seconds:.0f} s to compile and score)",
        "",
        "| scenario | typed chars | later-action results | key facts | noise | answer | answer_source | "
        "paste carries value |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for s in scores:
        paste = "" if s.paste_carries_value is None else ("yes" if s.paste_carries_value else "no")
        lines.append(
            f"| {s.scenario} | {s.typed_chars - s.typed_errors}/{s.typed_chars} | {s.later} of {s.results} | "
            f"{s.facts_found}/{s.facts} | {s.noise}/{s.tokens} | {'ok' if s.answer_ok else 'no'} | "
            f"{s.answer_source or '-'} | {paste} |"
        )
    lines += ["", "Details:", ""]
    for s in scores:
        answer = s.answer.replace("|", "/").replace("\n", " ")
        lines.append(f"- **{s.scenario}**: final turn {answer!r}")
        if s.later_examples:
            lines.append(f"  - later-action text: {'; '.join(s.later_examples)}")
        if s.missing:
            lines.append(f"  - facts missing from their step's result: {'; '.join(s.missing)}")
        if s.noise_examples:
            lines.append(f"  - noise tokens: {' '.join(f'`{w}`' for w in s.noise_examples)}")
    RESULTS.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reuse", action="store_true", help="compile and score the recordings made last time")
    ap.add_argument("--only", action="append", choices=list(SCENARIOS), help="these scenarios only (repeatable)")
    ap.add_argument("--label", default="this version", help="the run's name in the results table")
    args = ap.parse_args()
    names = args.only or list(SCENARIOS)
    load_start = open("/proc/loadavg").read().split()[0]
    if not args.reuse:
        record(names)
    started = time.time()
    truths = [Truth.model_validate_json((WORK / "truth" / f"{n}.json").read_text()) for n in names]
    by_session = {e.source.session: e for e in compile_sessions()}
    own_words = compiler_words()
    scores = [score(by_session.get(t.session), t, own_words) for t in truths]
    load_end = open("/proc/loadavg").read().split()[0]
    (WORK / "scores.json").write_text(json.dumps([s.model_dump() for s in scores], indent=1))
    write_results(scores, args.label, (load_start, load_end), time.time() - started)
    for s in scores:
        print(
            f"{s.scenario:10} typed {s.typed_chars - s.typed_errors}/{s.typed_chars}  later {s.later}/{s.results}  "
            f"facts {s.facts_found}/{s.facts}  noise {s.noise}/{s.tokens}  answer {'ok' if s.answer_ok else 'no'}"
        )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
