"""LLM options shared by every LLM plugin, and where the endpoint and key come from.

Precedence for `base_url`, `model` and `api_key`: the plugin's YAML options, then the
environment (`OPENAI_BASE_URL`, `OPENAI_MODEL`, `OPENAI_API_KEY`), then a `.env` file (in the
config's folder, else the working directory). The `.env` values are read, never exported into
the process environment, and the key is held as a `SecretStr` so it never shows in a repr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr

from toolbox.core.config import ConfigError
from toolbox.core.plugin import Options
from toolbox.llm.prices import DEFAULT_PRICES, Price, price_for

OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_MAX_TOKENS = 2048  # completion-token estimate for the budget when max_tokens is unset


class LLMOptions(Options):
    """Options of any plugin that calls an LLM (flat, so a YAML entry reads
    `transcriber: {name: openai, model: gpt-4o-mini, base_url: http://localhost:8000/v1}`)."""

    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    temperature: float | None = Field(0.2, ge=0, le=2)
    max_tokens: int | None = Field(DEFAULT_MAX_TOKENS, gt=0)
    extra_body: dict[str, Any] = Field(default_factory=dict)  # server-specific request fields
    timeout: float = Field(60.0, gt=0)  # seconds per request, in total (connect, send, wait, read)
    max_retries: int = Field(5, ge=0)  # transient errors (429, 5xx, timeouts, connection)
    backoff_base: float = Field(1.0, ge=0)  # seconds; doubles per retry, with jitter
    backoff_max: float = Field(30.0, ge=0)  # caps our backoff; a server's Retry-After is honoured up to 120 s
    max_validation_retries: int = Field(3, ge=0)  # re-asks after a reply that does not validate
    concurrency: int = Field(8, ge=1)  # requests in flight
    budget_usd: float | None = Field(None, ge=0)  # stop when the build's LLM spend would pass this
    prices: dict[str, Price] = Field(default_factory=dict)  # USD per 1M tokens; adds to the defaults
    cache: bool = True
    cache_dir: str | None = None  # default: <build cache_dir>/llm


@dataclass(frozen=True)
class Endpoint:
    """Where requests go. `api_key` is only ever handed to the `openai` client."""

    base_url: str
    model: str
    api_key: SecretStr
    price: Price | None

    def __repr__(self) -> str:  # never the key
        return f"Endpoint(base_url={self.base_url!r}, model={self.model!r})"


def _dotenv(base_dir: Path) -> dict[str, str]:
    from dotenv import dotenv_values  # the `llm` extra: imported where an LLM plugin is made

    for folder in (base_dir, Path.cwd()):
        file = folder / ".env"
        if file.is_file():
            return {k: v for k, v in dotenv_values(file).items() if v is not None}
    return {}


def resolve_endpoint(options: LLMOptions, base_dir: Path, where: str) -> Endpoint:
    """The endpoint, model, key and price for `options`; a missing piece is a one-line ConfigError."""
    dotenv = _dotenv(base_dir)

    def setting(value: str | None, env: str) -> str | None:
        return value or os.environ.get(env) or dotenv.get(env) or None

    base_url = setting(options.base_url, "OPENAI_BASE_URL") or OPENAI_URL
    model = setting(options.model, "OPENAI_MODEL")
    if not model:
        raise ConfigError(f"{where}: no model: set `model:` in the config or OPENAI_MODEL")
    key = options.api_key.get_secret_value() if options.api_key else setting(None, "OPENAI_API_KEY")
    if not key:
        if base_url.rstrip("/") == OPENAI_URL:
            raise ConfigError(
                f"{where}: no API key for {OPENAI_URL}: set OPENAI_API_KEY (environment or .env) or `api_key:`"
            )
        key = "no-key"  # local servers (vLLM, Ollama, llama.cpp) usually take any key
    price = price_for(model, {**DEFAULT_PRICES, **options.prices})
    if options.budget_usd is not None and price is None:
        raise ConfigError(
            f"{where}: budget_usd is set but there is no price for model {model!r}; "
            f"add `prices: {{{model}: {{input: USD_PER_1M, output: USD_PER_1M}}}}`"
        )
    return Endpoint(base_url=base_url, model=model, api_key=SecretStr(key), price=price)
