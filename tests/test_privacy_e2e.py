"""Planted secrets end to end: a recorded session where secrets of every kind are typed, shown
on a page rendered by headless Chromium (read back by tesseract) and sit in window titles, built
through the LLM path (`transcriber: openai`, vision on) against the loopback test server, with a
report. No planted secret may reach a request, an output, a cache, a log line; an excluded
window may not appear anywhere."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from fake_llm_server import FakeLLMServer, Reply  # noqa: E402
from privacy_corpus import planted  # noqa: E402
from session_files import SessionFiles  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
SIZE = (1400, 1000)

ITEMS = planted(seed=11, per_form=1)  # one value of each of the 26 forms
TYPED_PASSWORD = "Tr0ub4dor&3zebra"  # typed into a sign-in form: no pattern knows it
SIGN_IN_EMAIL = "carol.planted@example.org"
TITLE_KEY = next(i.value for i in ITEMS if i.form == "github ghp")
TITLE_EMAIL = "dave.title@corp.io"
CANARY = ["CANARY-EXCLUDED-7781", "vault-7781.kdbx", "excluded typed 7781"]


def secret_values() -> list[str]:
    """Every planted value as it could show up: whole, and a private key block line by line."""
    values = [TYPED_PASSWORD, SIGN_IN_EMAIL, TITLE_EMAIL, TITLE_KEY]
    for item in ITEMS:
        lines = [ln for ln in item.value.splitlines() if len(ln) >= 16 and "PRIVATE KEY" not in ln]
        values.extend(lines if "\n" in item.value else [item.value])
    return values


def spellings(value: str) -> set[str]:
    """The value as written in a JSON file or an HTML page."""
    return {value, json.dumps(value)[1:-1], html.escape(value), html.escape(value, quote=False)}


def leaks(text: str, values: list[str]) -> list[str]:
    return [v for v in values if any(s in text for s in spellings(v))]


# -- the recorded session ---------------------------------------------------------------------


def planted_page() -> str:
    lines = "\n".join(html.escape(item.text) for item in ITEMS)
    return (
        "<html><body style='margin:16px;background:#fff'><h2 style='font-family:sans-serif'>Deploy notes</h2>"
        f"<pre style='font-family:DejaVu Sans Mono,monospace;font-size:14px;line-height:1.5;color:#000'>{lines}</pre></body></html>"
    )


SIGN_IN_PAGE = f"""<html><body style='margin:40px;font-family:sans-serif;font-size:22px;background:#fff'>
<h1>Sign in to Example Bank</h1>
<p>Email</p><input style='font-size:22px;width:420px' value='{SIGN_IN_EMAIL}'>
<p>Password</p><input type='password' style='font-size:22px;width:420px' value='{TYPED_PASSWORD}'>
<p>Remember this device</p></body></html>"""


def screenshots(folder: Path) -> dict[str, Path]:
    from playwright.sync_api import sync_playwright

    out = {"notes": folder / "notes.png", "sign_in": folder / "sign_in.png"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": SIZE[0], "height": SIZE[1]})
        for name, markup in (("notes", planted_page()), ("sign_in", SIGN_IN_PAGE)):
            page.set_content(markup)
            page.screenshot(path=str(out[name]))
        browser.close()
    return out


def text_frame(path: Path, lines: list[str]) -> None:
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 18)
    for i, line in enumerate(lines):
        draw.text((20, 20 + 30 * i), line, fill="black", font=font)
    image.save(path)


class Recording(SessionFiles):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder, task="deploy the service", size=SIZE)

    def frame(self, t: float, image: Path, reason: str = "after") -> None:
        self.add_frame(t, image, reason)


def record_session(root: Path) -> Path:
    shots = screenshots(root)
    rec = Recording(root / "sessions" / "20260101T000000Z-planted")
    # 1. a page full of planted secrets (Chromium), with a note typed into it
    rec.window(0.0, "Deploy notes - Chromium", "chromium")
    rec.frame(0.5, shots["notes"], "start")
    rec.click(1.0, 300, 60)
    rec.type(1.5, "checked the notes above")
    rec.frame(3.0, shots["notes"])
    # 2. a sign-in form: e-mail, Tab, a password no pattern would know, Enter
    rec.window(20.0, "Sign in to Example Bank - Chromium", "chromium")
    rec.frame(20.3, shots["sign_in"], "window")
    rec.click(21.0, 200, 170)
    t = rec.type(21.5, SIGN_IN_EMAIL)
    rec.keys(t + 0.2, "tab")
    t = rec.type(t + 0.5, TYPED_PASSWORD)
    rec.keys(t + 0.2, "enter")
    rec.frame(t + 1.0, shots["sign_in"])
    # 3. a password manager the YAML excludes: never seen by OCR, a model or the output
    text_frame(root / "vault.png", [CANARY[0], f"entry: {CANARY[1]}"])
    rec.window(40.0, f"{CANARY[1]} - KeePassXC", "keepassxc")
    rec.frame(40.2, root / "vault.png", "window")
    rec.click(41.0, 100, 40)
    rec.type(41.5, CANARY[2])
    rec.frame(43.0, root / "vault.png")
    # 4. a terminal whose title holds secrets; every planted text typed, one line each
    rec.window(60.0, f"export GITHUB_TOKEN={TITLE_KEY} ({TITLE_EMAIL}) - xterm", "xterm")
    typed_lines = [line for item in ITEMS for line in item.text.splitlines()]
    text_frame(root / "term1.png", ["$ " + line for line in typed_lines[:12]])
    text_frame(root / "term2.png", ["$ " + line for line in typed_lines[12:24]])
    rec.frame(60.2, root / "term1.png", "window")
    t = 61.0
    for i, item in enumerate(ITEMS):
        t = rec.type(t, item.text + "\n") + 0.5
        if i == len(ITEMS) // 2:
            rec.frame(t, root / "term2.png")
    rec.frame(t + 0.5, root / "term2.png")
    return rec.save()


# -- the build -------------------------------------------------------------------------------


def responder(body: dict) -> Reply:
    """A valid reply that repeats everything it was sent: a leak into a request reaches the
    output too."""
    sent = "\n".join(
        p["text"] if isinstance(p, dict) else p
        for m in body["messages"]
        for p in (m["content"] if isinstance(m["content"], list) else [m["content"]])
        if isinstance(p, str) or p.get("type") == "text"
    )
    match = re.search(r"## Interval (\d+)", sent)
    step = {
        "function": {
            "name": "do_the_work",
            "description": "Does what the person did.",
            "parameters": {"type": "object", "properties": {"what": {"type": "string"}}},
        },
        "arguments": {"what": sent[-1500:]},
        "response": sent[-3000:],
    }
    return Reply.json(
        {
            "user_request": f"Interval {match.group(1) if match else '?'}: {sent[-800:]}",
            "steps": [step],
            "final_answer": sent[-600:],
        }
    )


def write_config(root: Path, url: str, vision: bool = True) -> Path:
    config = {
        "datasets": [{"name": "sessions", "path": "sessions"}],
        "tasks": [
            {
                "name": "interval_episodes",
                "ocr": "tesseract",
                "ocr_workers": 1,
                "exclude_windows": ["keepass"],
                "transcriber": {
                    "name": "openai",
                    "model": "test-model",
                    "base_url": url,
                    "api_key": "test-key",
                    "vision": vision,
                    "per": "interval",  # many requests
                    "on_ungrounded": "keep",  # the echoing model's text is not all evidence; leaks are the point here
                    "max_images": 2,
                    "image_max_side": SIZE[0],
                    "concurrency": 4,
                    "backoff_base": 0.01,
                },
            }
        ],
        "format": "openai",
        "output": "out/out.jsonl",
        "cache_dir": "cache",
    }
    path = root / "privacy.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("planted")
    session = record_session(root)
    with FakeLLMServer(responder) as server:
        config = write_config(root, server.url)
        done = subprocess.run(
            [
                sys.executable,
                "build_data.py",
                "--config",
                str(config),
                "--report",
                str(root / "report" / "report.html"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=600,
        )
        yield {"root": root, "session": session, "server": server, "run": done}


def text_files(folder: Path) -> Iterator[Path]:
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix.lower() not in (".png", ".webp", ".jpg", ".jpeg"):
            yield path


def test_the_build_went_through_the_llm(build: dict[str, Any]) -> None:
    run = build["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    rows = (build["root"] / "out" / "out.jsonl").read_text().splitlines()
    assert len(rows) >= 20 and len(build["server"].requests) >= len(rows)
    stats = json.loads((build["root"] / "out" / "out.jsonl.stats.json").read_text())
    assert any(d["reason"] == "excluded window" for d in stats["dropped"])
    assert stats["redactions"]["password"] >= 1 and stats["redactions"]["api_key"] >= 9


def test_secrets_were_really_there(build: dict[str, Any]) -> None:
    """The test means something: the raw session and the OCR of the Chromium page hold them."""
    events = (build["session"] / "events.jsonl").read_text()
    assert TITLE_KEY in events and SIGN_IN_EMAIL[0] in events
    ocr_text = "\n".join(
        " ".join(w["text"] for w in json.loads(p.read_text()))
        for p in (build["root"] / "cache" / "ocr").rglob("*.json")
    )
    read = [v for v in secret_values() if v in ocr_text]
    assert len(read) >= 12, read  # tesseract read the page's secrets (they are in the private OCR cache)


def test_no_planted_secret_leaves_or_reaches_an_output(build: dict[str, Any]) -> None:
    values = secret_values()
    root = build["root"]
    for request in build["server"].requests:
        text = json.dumps(
            {
                **request.body,
                "messages": [
                    m
                    if isinstance(m["content"], str)
                    else {**m, "content": [p for p in m["content"] if p.get("type") == "text"]}
                    for m in request.body["messages"]
                ],
            }
        )
        assert not leaks(text, values), leaks(text, values)
    assert "[PASSWORD]" in "".join(r.text() for r in build["server"].requests)
    checked = 0
    for path in [*text_files(root / "out"), *text_files(root / "report"), *text_files(root / "cache" / "llm")]:
        found = leaks(path.read_text(errors="replace"), values)
        assert not found, f"{path}: {found}"
        checked += 1
    assert checked >= 5
    logs = build["run"].stderr + build["run"].stdout
    assert not leaks(logs, values), leaks(logs, values)


def test_caches_hold_no_secret_readable_by_others(build: dict[str, Any]) -> None:
    cache = build["root"] / "cache"
    assert stat.S_IMODE((cache / "ocr").stat().st_mode) == 0o700  # raw screen text lives only here
    assert any((cache / "llm").rglob("*.json"))


def test_excluded_window_appears_nowhere(build: dict[str, Any]) -> None:
    root = build["root"]
    everything = [json.dumps(r.body) for r in build["server"].requests]
    everything += [
        p.read_text(errors="replace") for folder in ("out", "report", "cache") for p in text_files(root / folder)
    ]
    everything.append(build["run"].stderr + build["run"].stdout)
    for canary in CANARY + ["KeePassXC"]:
        assert not any(canary.lower() in text.lower() for text in everything), canary


def test_frames_sent_to_the_vision_model_are_blacked_out(build: dict[str, Any]) -> None:
    from toolbox.core.registry import get

    images = [
        p["image_url"]["url"]
        for r in build["server"].requests
        for m in r.messages
        if isinstance(m["content"], list)
        for p in m["content"]
        if p.get("type") == "image_url"
    ]
    assert images
    engine_cls = get("ocr_engines", "tesseract", "ocr")
    engine = engine_cls(engine_cls.Options(), None)
    seen_pages = 0
    values = secret_values()
    for url in dict.fromkeys(images):
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        words = " ".join(w.text for w in engine.read(image.convert("RGB")))
        if "Deploy" in words or "Sign" in words:
            seen_pages += 1
        assert not leaks(words, values), leaks(words, values)
    assert seen_pages >= 1  # legible where nothing is secret


def test_audit_prints_what_would_be_sent_and_sends_nothing(build: dict[str, Any]) -> None:
    root, server = build["root"], build["server"]
    before = len(server.requests)
    done = subprocess.run(
        [
            sys.executable,
            "build_data.py",
            "audit",
            "--config",
            str(root / "privacy.yaml"),
            "--session",
            build["session"].name,
            "--limit",
            "3",
            "--frames-dir",
            str(root / "audit"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(server.requests) == before  # nothing reached the server
    out = done.stdout
    assert len(re.findall(r"request \d+: ", out)) == 3 and "nothing was sent" in out
    assert re.search(r"dropped before any model: \d+ interval\(s\), interval_episodes: excluded window", out)
    assert "[PASSWORD]" in out and "[API_KEY_" in out and "redacted in this request:" in out
    assert "area(s) blacked out; as sent:" in out
    assert not leaks(out + done.stderr, secret_values())
    assert not any(c.lower() in out.lower() for c in CANARY)
    shots = list((root / "audit").rglob("*.png"))
    assert shots and stat.S_IMODE((root / "audit" / build["session"].name).stat().st_mode) == 0o700
