"""The experiment YAML, validated with pydantic. Errors are one line naming the key path."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from toolbox.core import registry
from toolbox.core.plugin import Options


class ConfigError(Exception):
    """A config problem, as one line for the user."""


class PluginRef(BaseModel):
    """A plugin named in YAML: `- quality`, `- name: quality\\n  min_turns: 2` or `- quality: {min_turns: 2}`."""

    model_config = ConfigDict(extra="forbid")
    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and "name" in value:
            rest = {k: v for k, v in value.items() if k != "name"}
            return {"name": value["name"], "options": rest}
        if isinstance(value, dict) and len(value) == 1:
            ((name, options),) = value.items()
            if options is None or isinstance(options, dict):
                return {"name": name, "options": options or {}}
        raise ValueError("expected a plugin name, or a mapping with 'name' and its options")


class ExperimentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    datasets: list[PluginRef] = Field(min_length=1)
    tasks: list[PluginRef] = Field(default_factory=list)
    filters: list[PluginRef] = Field(default_factory=list)
    format: str | PluginRef = "openai"  # a name, or a mapping with the name and its options
    output: str = "out/data.jsonl"
    seed: int = 0
    max_length: int | None = Field(default=None, gt=0)
    limit: int | None = Field(default=None, gt=0)
    plugins: list[str] = Field(default_factory=list)
    cache_dir: str = ".cache/datamakr"
    report: str | None = None
    use_vision: bool = False


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def one_line(exc: ValidationError, prefix: str = "", fields: list[str] | None = None) -> str:
    """The first validation error as `key.path: message`, with a hint for misspelt keys."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in ("function-after[_from_yaml(), PluginRef]",))
    path = _loc(loc)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden" and fields:
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
        message = "unknown key" + (f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(fields)})")
    if prefix and path:
        path = f"{prefix}.{path}"
    return f"{path or prefix}: {message}"


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[ExperimentConfig, Path]:
    """Read and validate a YAML experiment; CLI flags in `overrides` replace its keys."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{file}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the config must be a mapping of keys")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{file}: {one_line(exc, fields=list(ExperimentConfig.model_fields))}") from None
    return config, file.resolve().parent


def plugin_options(kind: str, ref: PluginRef, where: str) -> tuple[Any, Options]:
    """Look up a plugin and validate its options; errors name the key path."""
    try:
        plugin = registry.get(kind, ref.name, where)
    except registry.PluginError as exc:
        raise ConfigError(str(exc)) from None
    options_model = getattr(plugin, "Options", Options)
    try:
        options = options_model.model_validate(ref.options)
    except ValidationError as exc:
        raise ConfigError(
            one_line(exc, prefix=f"{where} ({ref.name})", fields=list(options_model.model_fields))
        ) from None
    return plugin, options
