"""Passwords typed into sign-in forms, and what to black out on frames sent to a vision model."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from toolbox.ocr_engines.words import Box, OcrWord, text_lines

if TYPE_CHECKING:
    from PIL.Image import Image

    from toolbox.privacy.redactor import RedactionMap, Redactor

_SIGN_IN = re.compile(
    r"(?i)\b(?:sign[ -]?in|sign[ -]?on|log[ -]?in|log[ -]?on|passw(?:or)?d|passwd|passphrase|passcode|"
    r"passwort|kennwort|anmelden|mot de passe|connexion|contrase[nñ]a|iniciar sesi[oó]n|senha|"
    r"authenticat(?:e|ion)|verification code|one[- ]time code|2fa|two[- ]factor|unlock|sudo)\b"
)
_PASSWORD_LABEL = re.compile(
    r"(?i)^(?:passw(?:or)?d|passwd|passphrase|passcode|pin|passwort|kennwort|contrase[nñ]a|senha|wachtwoord|hasło|salasana)$"
)
_MASK = re.compile(r"^[*•●·∙⬤]{3,}$")


def is_sign_in_context(window_title: str | None, screen_text: str | None = None) -> bool:
    """True when the window title or the screen text around the typing speaks of signing in
    or a password: text typed there is treated as a password. Errs on the side of privacy (a
    page *about* passwords counts too)."""
    return any(_SIGN_IN.search(text) for text in (window_title, screen_text) if text)


def _frame_size(words: Sequence[OcrWord]) -> tuple[int, int] | None:
    """The frame size, recovered from a word's box and its normalized midpoint."""
    for w in words:
        mx, my = w.mid
        if mx > 0.05 and my > 0.05:
            return round((w.box[0] + w.box[2]) / 2 / mx), round((w.box[1] + w.box[3]) / 2 / my)
    return None


def _label(text: str) -> str:
    return text.strip().strip(":*?.").strip()


@lru_cache(maxsize=1 << 16)  # a session shows the same words frame after frame
def _word_kind(text: str) -> tuple[str, bool, bool]:
    """A word's label text (lower case), whether it names a password field, whether it is a mask."""
    label = _label(text)
    return label.lower(), bool(_PASSWORD_LABEL.match(label)), bool(_MASK.match(text.strip()))


def password_field_boxes(words: Sequence[OcrWord], frame_size: tuple[int, int] | None = None) -> list[Box]:
    """Boxes to black out for every field labelled "Password" (or a translation, or a run of
    mask dots): the band to the right of the label on its line, where a field beside its label
    sits, and the band under it, where a field below its label sits. Generous on purpose: a
    blacked-out bit of form costs less than a readable password."""
    size = frame_size or _frame_size(words)
    width, height = (
        size if size else (max((w.box[2] for w in words), default=0) * 2, max((w.box[3] for w in words), default=0) * 2)
    )
    boxes: list[Box] = []
    kinds = [_word_kind(w.text) for w in words]
    for i, word in enumerate(words):
        lower, is_label, is_mask = kinds[i]
        labelled = is_label or (lower == "mot" and i + 1 < len(words) and kinds[i + 1][0] == "de")
        if is_mask:
            x0, y0, x1, y1 = word.box
            boxes.append((x0, y0, x1, y1))
            continue
        if not labelled:
            continue
        x0, y0, x1, y1 = word.box
        h = max(y1 - y0, 8)
        boxes.append((x1, max(0, y0 - h // 2), min(width, x1 + 40 * h), min(height, y1 + h // 2)))  # beside
        boxes.append((max(0, x0 - h), y1, min(width, x0 + 40 * h), min(height, y1 + 3 * h)))  # below
    return boxes


def sensitive_word_boxes(
    words: Sequence[OcrWord], redactor: Redactor, mapping: RedactionMap | None = None
) -> list[Box]:
    """Boxes of OCR words that hold redacted text. Words are joined into lines first, so a
    card number or phone split over several words is still found."""
    boxes: list[Box] = []
    for line in text_lines(words):
        spans: list[tuple[int, int, OcrWord]] = []
        parts: list[str] = []
        at = 0
        for w in line:
            spans.append((at, at + len(w.text), w))
            parts.append(w.text)
            at += len(w.text) + 1
        findings = redactor.find(" ".join(parts), mapping, screen=True)
        for start, end, w in spans:
            if any(start < f.end and f.start < end for f in findings):
                boxes.append(tuple(w.box))  # type: ignore[arg-type]
    return boxes


def blackout(image: Image, boxes: Iterable[Box], pad: int = 2) -> Image:
    """A copy of `image` with every box filled black (padded a little, clipped to the image)."""
    out = image.copy()
    if out.mode not in ("RGB", "RGBA", "L"):
        out = out.convert("RGB")
    from PIL import ImageDraw

    draw = ImageDraw.Draw(out)
    w, h = out.size
    for x0, y0, x1, y1 in boxes:
        box = (max(0, x0 - pad), max(0, y0 - pad), min(w - 1, x1 + pad), min(h - 1, y1 + pad))
        if box[2] > box[0] and box[3] > box[1]:
            draw.rectangle(box, fill=0 if out.mode == "L" else (0, 0, 0))
    return out


def black_share(boxes: Iterable[Box], size: tuple[int, int], pad: int = 2) -> float:
    """The share of a `size` frame that `blackout` (with the same `pad`) covers."""
    import numpy as np

    width, height = size
    covered = np.zeros((max(height, 1), max(width, 1)), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        covered[
            max(0, y0 - pad) : max(0, min(height, y1 + pad + 1)), max(0, x0 - pad) : max(0, min(width, x1 + pad + 1))
        ] = True
    return float(covered.mean())


def unread_boxes(
    image: Image,
    words: Sequence[OcrWord],
    region: Box | None = None,
    cell: int = 8,
    pad: int = 3,
    line: int = 32,
    max_height: int = 64,
    min_width: int = 40,
) -> list[Box]:
    """Boxes around text-like marks OCR read no word in (`hide_unread`): text it missed may
    still hold a secret a vision model would read. Sharp edges outside every word box, less the
    straight runs of `line` pixels or more (window, panel and table borders, rules: they joined
    everything into one box covering the screen), are gathered in cells of `cell` pixels; cells
    that touch (or nearly, along a line) form an area, and each area no taller than `max_height`
    (a line or two of text) and at least `min_width` wide (room for a secret of some 8
    characters; a lone digit or colon OCR skipped holds none) is returned as its bounding box."""
    import numpy as np

    gray = np.asarray(image.convert("L"), dtype=np.int16)
    height, width = gray.shape
    horizontal = np.zeros(gray.shape, dtype=bool)
    vertical = np.zeros(gray.shape, dtype=bool)
    horizontal[1:, :] = np.abs(np.diff(gray, axis=0)) > 48  # an edge between two rows
    vertical[:, 1:] = np.abs(np.diff(gray, axis=1)) > 48
    edges = (horizontal & ~_long_runs(horizontal, line)) | (vertical & ~_long_runs(vertical.T, line).T)
    if region is not None:  # outside the region is blacked out whole anyway
        x0, y0, x1, y1 = region
        inside = np.zeros_like(edges)
        inside[max(0, y0) : y1, max(0, x0) : x1] = True
        edges &= inside
    for w in words:
        x0, y0, x1, y1 = w.box
        edges[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = False
    rows, cols = -(-height // cell), -(-width // cell)
    grid = np.zeros((rows * cell, cols * cell), dtype=bool)
    grid[:height, :width] = edges
    cells = grid.reshape(rows, cell, cols, cell).sum(axis=(1, 3)) >= 2
    boxes: list[Box] = []
    seen = np.zeros_like(cells)
    for r, c in zip(*np.nonzero(cells)):
        if seen[r, c]:
            continue
        stack = [(r, c)]
        seen[r, c] = True
        r0, c0, r1, c1 = r, c, r, c
        while stack:
            y, x = stack.pop()
            r0, c0, r1, c1 = min(r0, y), min(c0, x), max(r1, y), max(c1, x)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1), (y, x - 2), (y, x + 2)):
                if 0 <= ny < rows and 0 <= nx < cols and cells[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if (r1 - r0 + 1) * cell <= max_height and (c1 - c0 + 1) * cell >= min_width:
            boxes.append(
                (int(c0 * cell), int(r0 * cell), int(min(width, (c1 + 1) * cell)), int(min(height, (r1 + 1) * cell)))
            )
    return boxes


def _long_runs(mask: Any, length: int) -> Any:
    """Which pixels of `mask` (rows of booleans) lie on a run of at least `length` along their row."""
    import numpy as np

    rows, width = mask.shape
    if width < length:
        return np.zeros_like(mask)
    total = np.zeros((rows, width + 1), dtype=np.int32)
    np.cumsum(mask, axis=1, out=total[:, 1:])
    full = (total[:, length:] - total[:, :-length]) == length  # the run starting at each pixel is whole
    starts = np.zeros((rows, width + 1), dtype=np.int32)
    np.cumsum(np.pad(full, ((0, 0), (0, length - 1))), axis=1, out=starts[:, 1:])
    begin = np.clip(np.arange(width) - length + 1, 0, None)
    return (starts[:, 1:] - starts[:, begin]) > 0
