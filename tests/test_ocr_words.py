"""The one rule for grouping OCR words into lines, which every reader of the screen shares."""

from __future__ import annotations

import random

from toolbox.ocr_engines.words import OcrWord, lines_text, reading_order, text_lines


def word(text: str, x0: int, y0: int, x1: int, y1: int, line: int = 0) -> OcrWord:
    return OcrWord(text=text, box=(x0, y0, x1, y1), conf=0.9, mid=((x0 + x1) / 1600, (y0 + y1) / 1200), line=line)


# Two lines of 16 px text set solid (no gap between them). "jumpy", "gray" and "nap" hang lower
# (descenders), "Dogs" stands higher (a capital): each still belongs to its own line, and a
# line reads left to right although its words' middles differ.
FIRST = [word("jumpy", 10, 100, 65, 121), word("cat", 75, 100, 105, 116), word("sat", 115, 100, 150, 116)]
SECOND = [word("gray", 10, 116, 45, 137), word("Dogs", 55, 113, 95, 132), word("nap", 105, 116, 135, 137)]


def test_words_out_of_order_come_back_as_lines_left_to_right() -> None:
    words = FIRST + SECOND
    for seed in range(5):
        random.Random(seed).shuffle(words)
        assert [[w.text for w in line] for line in text_lines(words)] == [
            ["jumpy", "cat", "sat"],
            ["gray", "Dogs", "nap"],
        ]
        assert [w.text for w in reading_order(words)] == ["jumpy", "cat", "sat", "gray", "Dogs", "nap"]
        assert lines_text(words) == "jumpy cat sat\ngray Dogs nap"


def test_columns_at_one_height_are_two_lines_only_by_the_engines_line_numbers() -> None:
    label = [word("Name", 10, 200, 60, 216, line=3), word("field", 70, 200, 110, 216, line=3)]
    button = [word("Save", 400, 201, 450, 217, line=7), word("now", 460, 200, 500, 216, line=7)]
    words = [button[0], label[1], button[1], label[0]]
    assert lines_text(words) == "Name field Save now"
    assert [[w.text for w in line] for line in text_lines(words, engine_lines=True)] == [
        ["Name", "field"],
        ["Save", "now"],
    ]


def test_no_words_no_lines() -> None:
    assert text_lines([]) == [] and lines_text([]) == ""
