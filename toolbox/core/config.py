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
    format: PluginRef = Field(default_factory=lambda: PluginRef(name="openai"))
    output: str = "out/data.jsonl"
    seed: int = 0
    max_length: int | None = Field(default=None, gt=0)
    limit: int | None = Field(default=None, gt=0)
    plugins: list[str] = Field(default_factory=list)
    cache_dir: str = ".cache/datamakr"
    report: str | None = None
    use_vision: bool = False
    tokenizer: str | None = None  # a local HF tokenizer folder: token counts as the trainer counts them
    executor: PluginRef = Field(default_factory=lambda: PluginRef(name="local"))  # local | ray, with options


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


MAX_YAML_VALUES = 100_000  # values of a config with its aliases expanded; a real one has a few hundred


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values `node` stands for once every alias in it is copied out (memoized per
    node, so a deep chain of anchors costs its length, not its expansion)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise ConfigError(f"line {node.start_mark.line + 1}: an anchor refers to itself")
    open_nodes.add(key)
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    size = 1
    for child in children:
        size += _expanded_size(child, sizes, open_nodes)
        if size > MAX_YAML_VALUES:
            break
    open_nodes.discard(key)
    sizes[key] = size
    return size


def safe_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing documents whose aliases expand to more than MAX_YAML_VALUES
    values (a "billion laughs" config), before anything is expanded."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, set()) > MAX_YAML_VALUES:
            raise ConfigError(f"its anchors and aliases expand to more than {MAX_YAML_VALUES:,} values; refused")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_config(
    path: str | Path, overrides: dict[str, Any] | None = None, flags: dict[str, str] | None = None
) -> tuple[ExperimentConfig, Path]:
    """Read and validate a YAML experiment; CLI flags in `overrides` replace its keys. A bad
    override is blamed on its flag (`flags`: key -> flag, e.g. {"limit": "--limit"})."""
    file = Path(path)
    try:
        data = safe_yaml(file.read_text(encoding="utf-8"))
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply") from None
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
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    task_names = given.pop("tasks", None)
    try:
        config = ExperimentConfig.model_validate({**data, **given})
    except ValidationError as exc:
        key = exc.errors()[0]["loc"][0] if exc.errors()[0]["loc"] else None
        if key in given:
            message = one_line(exc).split(": ", 1)[1]
            flag = (flags or {}).get(str(key), f"--{str(key).replace('_', '-')}")
            raise ConfigError(f"{flag}: {message}") from None
        raise ConfigError(f"{file}: {one_line(exc, fields=list(ExperimentConfig.model_fields))}") from None
    if task_names is not None:
        config = config.model_copy(update={"tasks": select_tasks(config.tasks, task_names, file)})
    return config, file.resolve().parent


def select_tasks(configured: list[PluginRef], names: list[str], file: Path) -> list[PluginRef]:
    """`--tasks a,b`: the YAML's entries named a and b, in that order, with their options. A name
    the YAML does not configure runs with its defaults, unless that would drop options the YAML
    gives its other tasks (a privacy setting such as exclude_windows must never go silently):
    then it is an error naming them."""
    chosen: list[PluginRef] = []
    unconfigured: list[str] = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        entries = [ref for ref in configured if ref.name == name]
        if not entries:
            unconfigured.append(name)
            entries = [PluginRef(name=name)]
        chosen.extend(entries)
    selected = {ref.name for ref in chosen}
    lost = [
        f"tasks[{i}] ({ref.name}): {', '.join(ref.options)}"
        for i, ref in enumerate(configured)
        if ref.options and ref.name not in selected
    ]
    if unconfigured and lost:
        raise ConfigError(
            f"{file}: --tasks names {', '.join(map(repr, unconfigured))}, which the YAML does not configure; "
            f"running it with its defaults would drop the options the YAML gives {'; '.join(lost)}. "
            "Configure it in the YAML with the options it needs, or name a configured task"
        )
    return chosen


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
