"""Sign-in contexts, password fields found from real OCR of a rendered form, and blackout."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from toolbox.core.registry import get
from toolbox.ocr_engines.words import OcrWord
from toolbox.privacy import (
    RedactionMap,
    Redactor,
    blackout,
    is_sign_in_context,
    password_field_boxes,
    sensitive_word_boxes,
)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.mark.parametrize(
    "title,screen",
    [
        ("Sign in - Google Accounts - Chromium", None),
        ("GitHub: Log in", None),
        ("[sudo] password for alice - xterm", None),
        ("Untitled - Chromium", "Welcome back\nEmail\nPassword\nForgot password?"),
        ("Anmelden - Sparkasse", None),
    ],
)
def test_sign_in_contexts(title: str, screen: str | None) -> None:
    assert is_sign_in_context(title, screen)


@pytest.mark.parametrize(
    "title,screen",
    [
        ("notes - xterm", "hello world"),
        ("Inbox (3) - Gmail - Chromium", "Meeting moved to Friday"),
        ("main.py - Visual Studio Code", "def designing(): return signal"),
    ],
)
def test_not_sign_in_contexts(title: str, screen: str) -> None:
    assert not is_sign_in_context(title, screen)


def render_form(path: Path) -> Image.Image:
    """A sign-in form: label above its field, a label beside its field, and text that stays."""
    img = Image.new("RGB", (900, 520), "white")
    d = ImageDraw.Draw(img)
    big = ImageFont.truetype(FONT, 30)
    font = ImageFont.truetype(FONT, 22)
    d.text((60, 30), "Sign in to Example", font=big, fill="black")
    d.text((60, 100), "Email", font=font, fill="black")
    d.rectangle((60, 135, 520, 175), outline="gray")
    d.text((70, 142), "alice@example.com", font=font, fill="black")
    d.text((60, 200), "Password", font=font, fill="black")
    d.rectangle((60, 235, 520, 275), outline="gray")
    d.text((70, 242), "Hunter2Secret", font=font, fill="black")  # the "show password" eye is on
    d.text((60, 330), "PIN", font=font, fill="black")
    d.rectangle((150, 322, 400, 362), outline="gray")
    d.text((160, 329), "918273", font=font, fill="black")
    d.text((60, 430), "Remember this device", font=font, fill="black")
    img.save(path)
    return img


def ocr_words(image: Image.Image) -> list[OcrWord]:
    engine = get("ocr_engines", "tesseract")()
    w, h = image.size
    return [
        OcrWord(
            text=r.text,
            box=(r.x0, r.y0, r.x1, r.y1),
            conf=r.conf,
            mid=((r.x0 + r.x1) / 2 / w, (r.y0 + r.y1) / 2 / h),
            line=r.line,
        )
        for r in engine.read(image)
    ]


def test_password_fields_and_redacted_words_are_blacked_out(tmp_path: Path) -> None:
    image = render_form(tmp_path / "form.png")
    words = ocr_words(image)
    text = " ".join(w.text for w in words)
    assert "Hunter2Secret" in text and "918273" in text and "alice@example.com" in text  # OCR reads the frame

    boxes = password_field_boxes(words) + sensitive_word_boxes(words, Redactor(), RedactionMap())
    cleaned = blackout(image, boxes)
    after = " ".join(w.text for w in ocr_words(cleaned))
    for secret in ("Hunter2Secret", "918273", "alice@example.com"):
        assert secret not in after
    for kept in ("Sign", "Email", "Remember", "device"):
        assert kept in after  # labels and ordinary text stay readable
    assert image.getpixel((75, 250)) != (0, 0, 0) and cleaned.getpixel((75, 250)) == (
        0,
        0,
        0,
    )  # a copy; the original is untouched


def test_no_password_label_no_boxes() -> None:
    words = [
        OcrWord(text="Passage", box=(10, 10, 80, 30), conf=0.9, mid=(0.05, 0.05)),
        OcrWord(text="Word", box=(90, 10, 140, 30), conf=0.9, mid=(0.12, 0.05)),
    ]
    assert password_field_boxes(words) == []
