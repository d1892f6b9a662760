"""The llama2d format: rows of prompt, screen (words at normalised midpoints) and output; tokenized
with a tokenizer trained here (the `tokenizers` library) in llama2d's order with EOS; and a
recorded session written as screen steps, each on the words of the frame before its action."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont
from session_files import SessionFiles
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from toolbox.cli import main
from toolbox.core.format import FormatError
from toolbox.core.models import Episode, Source, Turn
from toolbox.core.plugin import BuildContext
from toolbox.core.screens import SCREEN_STEPS, Screen, ScreenStep, ScreenWord, step_prompt
from toolbox.formats.llama2d import IGNORE, Llama2d

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CORPUS = [
    "Task: open the cart. Previous actions: none",
    "Garden Shop Search plants Small Large Open cart Weekly deals today Footer help",
    'CLICK [3] TYPE [0] "red roses" SELECT [1] "Large"',
]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small BPE tokenizer (so longer words split into several sub-tokens), saved as a Hugging
    Face tokenizer folder."""
    folder = tmp_path_factory.mktemp("tokenizer")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=80, special_tokens=["<unk>", "<s>", "</s>"]))
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": {"content": "<s>"}, "eos_token": "</s>", "unk_token": "<unk>"})
    )
    return folder


STEP = ScreenStep(
    prompt=step_prompt("open the cart", []),
    screen=Screen(
        width=1280,
        height=1694,
        words=[
            ScreenWord(text="Garden", xy=(0.08, 0.02)),
            ScreenWord(text="Weekly", xy=(0.05, 0.14)),
            ScreenWord(text="[3]", xy=(0.05, 0.10)),
        ],
    ),
    output="CLICK [3]",
)


def episode(*steps: ScreenStep) -> Episode:
    return Episode(
        id="e1",
        turns=[Turn(role="user", content="x")],
        source=Source(dataset="test"),
        metadata={SCREEN_STEPS: [s.model_dump(mode="json") for s in steps]},
    )


def fmt(tokenizer: Path | None = None, **options: Any) -> Llama2d:
    opts = {"tokenizer": str(tokenizer) if tokenizer else None, **options}
    return Llama2d(Llama2d.Options.model_validate(opts), BuildContext())


def test_rows_without_a_tokenizer_are_the_screen_steps(tmp_path: Path) -> None:
    rows = fmt().encode_rows(episode(STEP, STEP.model_copy(update={"output": "CLICK [4]"})))
    assert len(rows) == 2
    assert rows[0] == {
        "prompt": "Task: open the cart\nPrevious actions:\nnone",
        "screen": {
            "width": 1280,
            "height": 1694,
            "words": [
                {"text": "Garden", "xy": [0.08, 0.02]},
                {"text": "Weekly", "xy": [0.05, 0.14]},
                {"text": "[3]", "xy": [0.05, 0.1]},
            ],
        },
        "output": "CLICK [3]",
    }
    assert fmt().validate(rows[0]) == []
    with pytest.raises(FormatError, match="no screen steps"):
        fmt().encode_rows(Episode(id="e", source=Source(dataset="test")))


def test_tokenized_rows_in_llama2d_order_with_eos(tokenizer: Path) -> None:
    f = fmt(tokenizer)
    tok = Tokenizer.from_file(str(tokenizer / "tokenizer.json"))
    ids = lambda text: tok.encode(text, add_special_tokens=False).ids  # noqa: E731
    bos, eos, sep = (tok.token_to_id(t) for t in ("<s>", "</s>", "<unk>"))
    row = f.encode_rows(episode(STEP))[0]
    prompt, output = ids(STEP.prompt), ids(STEP.output)
    words = [ids(w.text) for w in STEP.screen.words]
    assert max(len(w) for w in words) > 1  # a word split into sub-tokens
    screen = [i for w in words for i in w]
    assert row["input_ids"] == [bos, *prompt, sep, *screen, sep, *output, eos]
    off = [[-1.0, -1.0]]
    word_xy = [list(w.xy) for w, pieces in zip(STEP.screen.words, words) for _ in pieces]  # each sub-token at its word
    assert row["coords"] == off * (len(prompt) + 2) + word_xy + off * (len(output) + 2)
    assert row["labels"] == [IGNORE] * (len(prompt) + 2 + len(screen) + 1) + [*output, eos]
    assert row["attention_mask"] == [1] * len(row["input_ids"])
    assert f.validate(row) == []
    learned = fmt(tokenizer, train_on_screen=True).encode_rows(episode(STEP))[0]
    assert learned["labels"] == [IGNORE] * (len(prompt) + 2) + screen + [IGNORE, *output, eos]


def test_long_rows_lose_screen_words_first_then_are_cut_at_max_length(tokenizer: Path) -> None:
    full = fmt(tokenizer).encode_rows(episode(STEP))[0]
    tok = Tokenizer.from_file(str(tokenizer / "tokenizer.json"))
    last_word = len(tok.encode("[3]", add_special_tokens=False).ids)
    f = fmt(tokenizer, max_length=len(full["input_ids"]) - 1)
    row = f.encode_rows(episode(STEP))[0]
    assert len(row["input_ids"]) == len(full["input_ids"]) - last_word  # the last word went, whole
    assert row["input_ids"][-3:] == full["input_ids"][-3:] and row["labels"][-3:] == full["labels"][-3:]
    assert row["labels"][-1] != IGNORE  # the output and EOS are still learned
    assert f.validate(row) == [] and f.counts["screens_cut"] == 1
    tiny = fmt(tokenizer, max_length=8)
    cut = tiny.encode_rows(episode(STEP))[0]
    assert len(cut["input_ids"]) == 8 and tiny.counts["truncated"] == 1 and tiny.validate(cut) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r["labels"].__setitem__(-1, 5), "neither -100 nor the input id"),
        (lambda r: r["coords"].__setitem__(0, [1.5, 0.2]), "must be (-1, -1) or inside [0, 1]"),
        (lambda r: r["attention_mask"].pop(), "lengths differ"),
        (lambda r: r.pop("labels"), "need all of"),
        (lambda r: r["screen"]["words"][0].__setitem__("xy", [0.5, 1.2]), "outside [0, 1]"),
        (lambda r: r.update(extra=1), "unknown keys: extra"),
    ],
)
def test_validate_finds_broken_rows(tokenizer: Path, change: Any, problem: str) -> None:
    f = fmt(tokenizer)
    row = f.encode_rows(episode(STEP))[0]
    change(row)
    assert any(problem in p for p in f.validate(row))


def render(texts: list[tuple[int, int, str]]) -> Image.Image:
    image = Image.new("RGB", (800, 600), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 22)
    for x, y, text in texts:
        draw.text((x, y), text, fill="black", font=font)
    return image


INBOX = [(40, 40, "Inbox"), (40, 100, "Compose"), (40, 160, "Archive")]
DRAFT = [(40, 40, "To: bob@example.com"), (40, 100, "Subject"), (40, 160, "Send")]
TYPED = [(40, 40, "To: bob@example.com"), (40, 100, "Subject hello bob"), (40, 160, "Send")]


def mail_session(root: Path) -> Path:
    """Click Compose, type a subject, click Send: each action on its own frame."""
    s = SessionFiles(root / "sessions" / "20260101T000000Z-mail", task="Write to Bob")
    s.window(0.2, "Mail", "mail")
    s.add_frame(0.5, render(INBOX), reason="start")
    s.click(1.0, 80, 112)  # on "Compose"
    s.add_frame(1.6, render(DRAFT), reason="after")
    t = s.type(2.5, "hello bob")
    s.add_frame(t + 0.5, render(TYPED), reason="after")
    s.click(t + 1.5, 70, 172)  # on "Send"
    s.add_frame(t + 2.2, render(TYPED), reason="after")
    s.save()
    return root


def test_a_recorded_session_becomes_one_row_per_action_on_the_screen_before_it(tmp_path: Path, tokenizer: Path) -> None:
    root = mail_session(tmp_path)
    (root / "build.yaml").write_text(
        "datasets: [{name: sessions, path: sessions}]\ntasks: [interval_episodes]\n"
        f"format: {{name: llama2d, tokenizer: {tokenizer}}}\noutput: out/mail.jsonl\ncache_dir: cache\n"
    )
    assert main(["--config", str(root / "build.yaml"), "-q"]) == 0
    out = root / "out" / "mail.jsonl"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["output"].split(" ")[0] for r in rows] == ["CLICK", "TYPE", "CLICK"]
    assert rows[0]["output"] == 'CLICK (0.100, 0.187) "Compose"' and rows[1]["output"] == 'TYPE "hello bob"'
    assert rows[0]["prompt"] == step_prompt("Write to Bob", [])
    assert rows[2]["prompt"] == step_prompt("Write to Bob", [rows[0]["output"], rows[1]["output"]])
    screens = [{w["text"] for w in r["screen"]["words"]} for r in rows]
    assert {"Inbox", "Compose"} <= screens[0] and "Send" not in screens[0]  # the frame before the click
    assert {"Subject", "Send"} <= screens[1] and "hello" not in screens[1]  # before typing
    assert {"hello", "bob", "Send"} <= screens[2]  # before the second click
    compose = next(w for w in rows[0]["screen"]["words"] if w["text"] == "Compose")
    assert compose["xy"][0] == pytest.approx(0.1, abs=0.06) and compose["xy"][1] == pytest.approx(0.19, abs=0.02)
    assert "bob@example.com" not in out.read_text() and "[EMAIL_1]" in screens[1]  # redacted like the screen text
    assert all((r["screen"]["width"], r["screen"]["height"]) == (800, 600) for r in rows)
    assert all(Llama2d().validate(r) == [] for r in rows)
    stats = json.loads(out.with_name(out.name + ".stats.json").read_text())
    assert stats["llama2d"]["rows"] == 3
