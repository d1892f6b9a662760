"""Per-model prices (USD per million tokens) and the cost of one request.

The defaults are list prices of common hosted models; a config's `prices:` entry adds or
overrides models (a local vLLM / Ollama model usually costs 0: `prices: {llama3: {input: 0, output: 0}}`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Price(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


DEFAULT_PRICES: dict[str, Price] = {
    name: Price(input=i, output=o)
    for name, (i, o) in {
        "gpt-4o": (2.50, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "o4-mini": (1.10, 4.40),
        "o3": (2.00, 8.00),
        "gpt-5": (1.25, 10.00),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5-nano": (0.05, 0.40),
    }.items()
}


def price_for(model: str, table: dict[str, Price]) -> Price | None:
    """The price of `model`: an exact entry, else the longest entry it extends with a dated or
    provider-prefixed name (`gpt-4o-2024-08-06` -> `gpt-4o`, `openai/gpt-4o-mini` -> `gpt-4o-mini`)."""
    name = model.split("/")[-1] if model not in table else model
    if name in table:
        return table[name]
    candidates = [key for key in table if name.startswith(key + "-")]
    return table[max(candidates, key=len)] if candidates else None
