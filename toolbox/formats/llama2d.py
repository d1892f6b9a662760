"""llama2d: a language model that reads a screen as words at 2D positions. One row per screen
step (core/screens.py): `{"prompt", "screen": {"width", "height", "words": [{"text", "xy"}]},
"output"}`, xy the word's midpoint as fractions of the screen.

With `tokenizer` (a local Hugging Face tokenizer folder) each row also carries what the model
trains on, in llama2d's order: BOS, prompt, separator, screen, separator, output, EOS.
`input_ids`; `coords`, (-1, -1) outside the screen and each screen sub-token at its word's
midpoint; `labels`, -100 on BOS, prompt and separators and on the screen unless
`train_on_screen`; `attention_mask`. A row longer than `max_length` loses screen words from
its end first (so the output survives), and is cut at `max_length` only if that is not enough.
Unlike llama2d the output ends with EOS and rows are not padded (a collator pads).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from toolbox.core.config import ConfigError
from toolbox.core.format import Format, FormatError
from toolbox.core.models import Episode
from toolbox.core.plugin import Options
from toolbox.core.registry import register_format
from toolbox.core.screens import ScreenStep, screen_steps

IGNORE = -100  # labels the loss skips
NO_XY = (-1.0, -1.0)  # coords of a token that is not on the screen
TOKEN_KEYS = ("input_ids", "coords", "labels", "attention_mask")


class RowTokenizer:
    """A Hugging Face tokenizer (`tokenizer.json`, special tokens from `tokenizer_config.json`
    or `special_tokens_map.json`), through the `tokenizers` library."""

    def __init__(self, folder: Path, separator: str | None) -> None:
        from tokenizers import Tokenizer

        file = folder / "tokenizer.json" if folder.is_dir() else folder
        try:
            self.tokenizer = Tokenizer.from_file(str(file))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exceptions
            raise ConfigError(f"format (llama2d).tokenizer: cannot load {file} ({exc})") from None
        special = _special_tokens(file.parent)
        self.bos = self._id(special.get("bos_token"), "bos_token")
        self.eos = self._id(special.get("eos_token"), "eos_token")
        self.separator = self._id(separator or special.get("unk_token"), "separator (or the tokenizer's unk_token)")

    def _id(self, token: str | None, what: str) -> int:
        found = self.tokenizer.token_to_id(token) if token else None
        if found is None:
            raise ConfigError(f"format (llama2d).tokenizer: no {what} in the tokenizer's vocabulary ({token!r})")
        return int(found)

    def ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


def _special_tokens(folder: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        try:
            config = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key in ("bos_token", "eos_token", "unk_token"):
            value = config.get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                found.setdefault(key, value)
    return found


@register_format("llama2d")
class Llama2d(Format):
    """llama2d rows: prompt, screen words with normalised midpoints, output; tokenized with a local tokenizer."""

    class Options(Options):
        tokenizer: str | None = None  # a Hugging Face tokenizer folder (or its tokenizer.json)
        max_length: int = Field(default=4096, ge=8)  # tokens per row, with a tokenizer
        train_on_screen: bool = False  # also learn the screen's tokens (pretraining on pages)
        separator: str | None = None  # the separator token; default: the tokenizer's unk token, as llama2d

    options: Options

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens: RowTokenizer | None = None
        if self.options.tokenizer:
            self.tokens = RowTokenizer(self.ctx.path(self.options.tokenizer), self.options.separator)
        self.counts = self.ctx.stats.extra.setdefault("llama2d", {"rows": 0, "screens_cut": 0, "truncated": 0})

    def encode_rows(self, episode: Episode) -> list[dict[str, Any]]:
        steps = screen_steps(episode)
        if not steps:
            raise FormatError("no screen steps (no action with a screen read before it)", reason="no screen steps")
        rows = [self._row(step) for step in steps]
        self.counts["rows"] += len(rows)
        return rows

    def encode(self, episode: Episode) -> dict[str, Any]:
        rows = self.encode_rows(episode)
        if len(rows) != 1:
            raise FormatError(f"{len(rows)} screen steps make {len(rows)} rows; encode_rows writes them")
        return rows[0]

    def _row(self, step: ScreenStep) -> dict[str, Any]:
        row = step.model_dump(mode="json")
        if self.tokens is not None:
            row.update(self._tokenized(step))
        return row

    def _tokenized(self, step: ScreenStep) -> dict[str, list[Any]]:
        assert self.tokens is not None
        tok = self.tokens
        words = step.screen.words
        prompt, output, *screen = tok.ids([step.prompt, step.output, *(w.text for w in words)])
        room = self.options.max_length - len(prompt) - len(output) - 4  # BOS, two separators, EOS
        kept = 0
        for ids in screen:
            if room - len(ids) < 0:
                break
            room -= len(ids)
            kept += 1
        if kept < len(screen):
            self.counts["screens_cut"] += 1
        screen_ids = [i for ids in screen[:kept] for i in ids]
        screen_xy = [list(w.xy) for w, ids in zip(words, screen[:kept]) for _ in ids]
        ids = [tok.bos, *prompt, tok.separator, *screen_ids, tok.separator, *output, tok.eos]
        off = [list(NO_XY)]
        coords = off * (len(prompt) + 2) + screen_xy + off * (len(output) + 2)
        screen_labels = screen_ids if self.options.train_on_screen else [IGNORE] * len(screen_ids)
        labels = [IGNORE] * (len(prompt) + 2) + screen_labels + [IGNORE, *output, tok.eos]
        if len(ids) > self.options.max_length:  # the prompt and output alone are too long
            self.counts["truncated"] += 1
            n = self.options.max_length
            ids, coords, labels = ids[:n], coords[:n], labels[:n]
        return {"input_ids": ids, "coords": coords, "labels": labels, "attention_mask": [1] * len(ids)}

    def validate(self, row: Any) -> list[str]:
        if not isinstance(row, dict):
            return ["row is not a JSON object"]
        problems = []
        extra = set(row) - {"prompt", "screen", "output", *TOKEN_KEYS}
        if extra:
            problems.append(f"unknown keys: {', '.join(sorted(extra))}")
        try:
            step = ScreenStep.model_validate({k: row.get(k) for k in ("prompt", "screen", "output")})
        except ValueError as exc:
            return [*problems, f"not a screen step: {str(exc).splitlines()[0]}"]
        for i, word in enumerate(step.screen.words):
            if not all(0.0 <= v <= 1.0 for v in word.xy):
                problems.append(f"screen.words[{i}].xy {list(word.xy)} is outside [0, 1]")
                break
        present = [k for k in TOKEN_KEYS if k in row]
        if present:
            problems.extend(self._check_tokens(row, present))
        return problems

    def _check_tokens(self, row: dict[str, Any], present: list[str]) -> list[str]:
        if len(present) != len(TOKEN_KEYS):
            return [f"tokenized rows need all of {', '.join(TOKEN_KEYS)}"]
        ids, coords, labels, mask = (row[k] for k in TOKEN_KEYS)
        if not all(isinstance(v, list) for v in (ids, coords, labels, mask)):
            return [f"{', '.join(TOKEN_KEYS)} must be lists"]
        if len({len(ids), len(coords), len(labels), len(mask)}) != 1:
            return [f"lengths differ: {', '.join(f'{k} {len(row[k])}' for k in TOKEN_KEYS)}"]
        if self.tokens is not None and len(ids) > self.options.max_length:
            return [f"{len(ids)} tokens, more than max_length {self.options.max_length}"]
        for i, (token, xy, label, m) in enumerate(zip(ids, coords, labels, mask)):
            if not isinstance(token, int) or m not in (0, 1):
                return [f"position {i}: input_ids must be ints and attention_mask 0 or 1"]
            if not (isinstance(xy, list) and len(xy) == 2) or not (
                list(xy) == list(NO_XY) or all(isinstance(v, int | float) and 0.0 <= v <= 1.0 for v in xy)
            ):
                return [f"position {i}: coords {xy} must be (-1, -1) or inside [0, 1]"]
            if label not in (IGNORE, token):
                return [f"position {i}: label {label} is neither -100 nor the input id {token}"]
            if xy != list(NO_XY) and label != IGNORE and not self.options.train_on_screen and self.tokens is not None:
                return [f"position {i}: a screen token is learned but train_on_screen is off"]
        return []
