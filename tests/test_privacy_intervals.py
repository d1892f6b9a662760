"""Interval evidence made safe before a transcriber sees it: exclusions, typed passwords,
OCR words and frames of a rendered sign-in form (read by tesseract)."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path

from test_privacy_passwords import ocr_words, render_form

from toolbox.activity.models import Action, FrameRef, Interval
from toolbox.privacy import RedactionMap, Redactor
from toolbox.privacy.exclusion import WindowExclusion
from toolbox.privacy.intervals import blacked_out_frame, redact_interval

KEY = "sk-ant-api03-Zx8Cv7Bn6Mm5Aa4Ss3Dd2Ff1Gg0Hh9Jj8Kk7Ll6Qq5Ww4Ee3Rr2Tt1Yy0Uu9Ii8Oo7Pp-AbCdEfAA"


def interval(words: list, frame: FrameRef | None = None) -> Interval:
    return Interval(
        session_id="s",
        session_path="/tmp/s",
        index=0,
        start=0.0,
        end=9.0,
        windows=["Sign in to Example - Chromium", "notes - alice@example.com - xterm"],
        apps=["chromium", "xterm"],
        actions=[
            Action(kind="type", t=1.0, text="alice@example.com", title="Sign in to Example - Chromium"),
            Action(kind="type", t=2.0, text="plainpassword", title="Sign in to Example - Chromium"),
            Action(
                kind="type",
                t=5.0,
                text=f"export ANTHROPIC_API_KEY={KEY}",
                title="notes - alice@example.com - xterm",
                result="echoed plainpassword",
            ),
        ],
        typed_text=f"alice@example.com plainpassword export ANTHROPIC_API_KEY={KEY}",
        screen_words=words,
        frames=[frame] if frame else [],
        metadata={"windows": ["notes - alice@example.com - xterm"]},
    )


def test_excluded_windows_and_apps() -> None:
    """Regular expressions searched case-insensitively, like the recorder's --exclude-window;
    any window the interval touched drops it whole, and the reason says which rule did."""
    iv = interval([])

    def reason(windows: Sequence[str] = (), apps: Sequence[str] = ()) -> str | None:
        return WindowExclusion.from_patterns(windows, apps).reason(iv)

    assert reason(windows=["sign in to"]) == "excluded window"
    assert reason(windows=[r"- chromium$"]) == "excluded window"
    assert reason(apps=["^xterm$"]) == "excluded app"
    assert reason(windows=["KeePassXC", r"\bBank\b"], apps=["keepassxc", "^term"]) is None


def test_interval_is_redacted_before_a_model_sees_it(tmp_path: Path) -> None:
    words = ocr_words(render_form(tmp_path / "form.png"))
    original = interval(words)
    safe = redact_interval(original, Redactor(), mapping := RedactionMap())
    dump = safe.model_dump_json()
    for secret in ("plainpassword", "alice@example.com", KEY, "Hunter2Secret", "918273"):
        assert secret not in dump, secret
    # typed in the sign-in window: a password, whatever it looks like, and gone where it is echoed;
    # the user name (an e-mail address) keeps its own placeholder
    assert [a.text for a in safe.actions[:2]] == ["[EMAIL_1]", "[PASSWORD]"]
    assert safe.actions[2].text == "export ANTHROPIC_API_KEY=[API_KEY_1]"
    assert safe.actions[2].result == "echoed [PASSWORD]"
    assert safe.windows[1] == "notes - [EMAIL_1] - xterm"
    screen = safe.screen_text()
    assert "Sign in to Example" in screen and "Remember this device" in screen
    assert original.actions[1].text == "plainpassword"  # a copy: the evidence itself is untouched
    assert mapping.counts["api_key"] == 2 and mapping.counts["password"] >= 3


def test_frame_for_a_vision_model_is_blacked_out(tmp_path: Path) -> None:
    path = tmp_path / "form.png"
    image = render_form(path)
    frame = FrameRef(path=str(path), t=1.0, width=image.width, height=image.height, hash="abc")
    words = ocr_words(image)
    out_dir = tmp_path / "redacted"
    safe = blacked_out_frame(frame, words, Redactor(), RedactionMap(), out_dir)
    assert safe.path != frame.path and Path(safe.path).parent == out_dir
    assert stat.S_IMODE(out_dir.stat().st_mode) == 0o700 and stat.S_IMODE(Path(safe.path).stat().st_mode) == 0o600
    from PIL import Image

    seen = " ".join(w.text for w in ocr_words(Image.open(safe.path)))
    assert "Hunter2Secret" not in seen and "alice@example.com" not in seen and "Remember" in seen
