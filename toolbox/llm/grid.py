"""SynthAI-style parameter grids: a list of values per category plus small random generators,
drawn per sample from the build seed, and a prompt template filled with them.

    categories:            # one value per category per sample
      api: [{name: book_flight, description: ...}, ...]
      intent: [book the cheapest flight, ...]
    generators:            # small random values
      phone: {type: phone}                                  # +1-555-014-2397
      date: {type: date, start: 2026-01-01, end: 2026-12-31}
      guests: {type: int, min: 1, max: 6}
      order: {type: pattern, pattern: "ORD-####-??"}        # # digit, ? letter, * either

In the template `{intent}` is the value, `{api.name}` a field of a mapping value, and a mapping
or list on its own is written as JSON. `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import string
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Gen(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatternGen(_Gen):
    type: Literal["pattern"]
    pattern: str

    def draw(self, rng: random.Random) -> str:
        table = {"#": string.digits, "?": string.ascii_uppercase, "*": string.ascii_uppercase + string.digits}
        return "".join(rng.choice(table[c]) if c in table else c for c in self.pattern)


class PhoneGen(_Gen):
    type: Literal["phone"]
    format: str = "+1-###-###-####"

    def draw(self, rng: random.Random) -> str:
        return PatternGen(type="pattern", pattern=self.format).draw(rng)


class DateGen(_Gen):
    type: Literal["date"]
    start: dt.date
    end: dt.date
    format: str = "%Y-%m-%d"

    @model_validator(mode="after")
    def _order(self) -> DateGen:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self

    def draw(self, rng: random.Random) -> str:
        days = (self.end - self.start).days
        return (self.start + dt.timedelta(days=rng.randint(0, days))).strftime(self.format)


class IntGen(_Gen):
    type: Literal["int"]
    min: int
    max: int

    def draw(self, rng: random.Random) -> int:
        return rng.randint(self.min, self.max)


class FloatGen(_Gen):
    type: Literal["float"]
    min: float
    max: float
    digits: int = Field(2, ge=0)

    def draw(self, rng: random.Random) -> float:
        return round(rng.uniform(self.min, self.max), self.digits)


class ChoiceGen(_Gen):
    type: Literal["choice"]
    values: list[Any] = Field(min_length=1)
    weights: list[float] | None = None

    def draw(self, rng: random.Random) -> Any:
        return rng.choices(self.values, weights=self.weights)[0]


Generator = Annotated[PatternGen | PhoneGen | DateGen | IntGen | FloatGen | ChoiceGen, Field(discriminator="type")]


class Grid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    generators: dict[str, Generator] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> Grid:
        both = set(self.categories) & set(self.generators)
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both a category and a generator")
        if not self.categories and not self.generators:
            raise ValueError("the grid needs at least one category or generator")
        return self

    def draw(self, rng: random.Random) -> dict[str, Any]:
        """One sample's parameters; names in sorted order so the draw does not depend on YAML order."""
        params = {name: rng.choice(self.categories[name]) for name in sorted(self.categories)}
        params.update({name: self.generators[name].draw(rng) for name in sorted(self.generators)})
        return params


class _Value:
    """A parameter in a template: JSON when it is a mapping or list, `.field` for a mapping's field."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __getattr__(self, name: str) -> _Value:
        if isinstance(self.value, dict) and name in self.value:
            return _Value(self.value[name])
        raise AttributeError(name)

    def __format__(self, spec: str) -> str:
        if isinstance(self.value, (dict, list)):
            return json.dumps(self.value, ensure_ascii=False)
        return format(self.value, spec)


def render(template: str, params: dict[str, Any]) -> str:
    """Fill `template`; an unknown field raises KeyError/AttributeError naming it."""
    return template.format_map({name: _Value(value) for name, value in params.items()})
