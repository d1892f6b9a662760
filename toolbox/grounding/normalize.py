"""One normal form for a value and the evidence it is looked up in, so that case, spacing,
punctuation, thousands separators and the usual OCR confusions never decide a match:

1. Unicode NFKC and case folding ("Ｌlama" = "llama").
2. A thousands separator between digit groups goes ("12,345" = "12'345" = "12345"); a decimal
   point stays.
3. Every run of characters that are neither letters nor digits becomes one space ("llama-7b_0502"
   = "llama 7b 0502"), so a match always starts and ends at a word edge.
4. OCR confusions: in every word I, l and | are one letter; in a word that holds a digit, O, l, S,
   B and Z are read as 0, 1, 5, 8 and 2 ("O5O2" = "0502", "Ilama2" = "llama2").

`normal_form` also returns, for every character of the normal form, the index of the character of
the original text it came from, so a match can be traced back to a span of the original.
"""

from __future__ import annotations

import re
import unicodedata

_THOUSANDS = re.compile(r"(?<=\d)[,'’\u00a0\u2009\u202f](?=\d{3}(?!\d))")
_LETTER_FOLD = str.maketrans({"i": "l"})
_DIGIT_FOLD = str.maketrans({"o": "0", "l": "1", "s": "5", "b": "8", "z": "2"})


def _fold(word: str) -> str:
    word = word.translate(_LETTER_FOLD)
    return word.translate(_DIGIT_FOLD) if any(c.isdigit() for c in word) else word


def normal_form(text: str) -> tuple[str, list[int]]:
    """The normal form of `text` and, per character of it, its index in `text`."""
    separators = {m.start() for m in _THOUSANDS.finditer(text)}
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if i in separators:
            continue
        for c in unicodedata.normalize("NFKC", "l" if ch == "|" else ch).casefold():
            if c.isalnum():
                chars.append(c)
                where.append(i)
            elif chars and chars[-1] != " ":
                chars.append(" ")
                where.append(i)
    if chars and chars[-1] == " ":
        chars.pop()
        where.pop()
    words = "".join(chars).split(" ")
    return " ".join(_fold(w) for w in words) if chars else "", where


def normal(text: str) -> str:
    return normal_form(text)[0]


def digits(text: str) -> str:
    """The digits of a normal form, in order: a near match must not change any of them."""
    return "".join(c for c in text if c.isdigit())
