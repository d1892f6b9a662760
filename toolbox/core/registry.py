"""Plugins registered by name, one table per kind; and the `build_data.py` subcommands, in a
table of their own.

Built-in plugins live in `toolbox/<kind>/`, subcommands in `toolbox/commands/`, each in a module
named like it; a module is imported when its name is first asked for (every one, when a list of
them is asked for), so a new module needs no edits elsewhere. A user's files (the
YAML's `plugins:`) and third-party packages (entry-point group `datamakr.plugins`) register the
same way, with the decorators below.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

KINDS = (
    "datasets",
    "tasks",
    "filters",
    "formats",
    "transcribers",
    "ocr_engines",
    "executors",
)  # a build's plugin kinds
COMMANDS = "commands"  # `build_data.py SUBCOMMAND`: a function taking the arguments, returning the exit code
ENTRY_POINT_GROUP = "datamakr.plugins"

T = TypeVar("T")


class PluginError(Exception):
    """A plugin cannot be found, loaded or registered. The message is one line for the user."""


_tables: dict[str, dict[str, Any]] = {kind: {} for kind in (*KINDS, COMMANDS)}
_loaded_builtins = False
_loaded_entry_points = False
_loaded_kinds: set[str] = set()


def _register(kind: str, name: str, obj: Any) -> None:
    table = _tables[kind]
    if name in table and table[name] is not obj:
        raise PluginError(f"{kind[:-1]} {name!r} is registered twice ({_origin(table[name])} and {_origin(obj)})")
    obj.plugin_name = name
    table[name] = obj


def _origin(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"


def _decorator(kind: str) -> Callable[[str], Callable[[T], T]]:
    def register(name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            _register(kind, name, obj)
            return obj

        return wrap

    register.__doc__ = f"Register a {kind[:-1]} under `name`: `@register_{kind[:-1]}('my_name')`."
    return register


register_dataset = _decorator("datasets")
register_task = _decorator("tasks")
register_filter = _decorator("filters")
register_format = _decorator("formats")
register_transcriber = _decorator("transcribers")
register_ocr_engine = _decorator("ocr_engines")
register_executor = _decorator("executors")
register_command = _decorator(COMMANDS)


def load_builtins() -> None:
    """Import every module of the built-in plugin and command packages, and entry-point
    plugins, once."""
    global _loaded_builtins
    if _loaded_builtins:
        return
    _loaded_builtins = True
    for kind in _tables:
        _load_kind(kind)


def _load_kind(kind: str) -> None:
    """Every built-in module of one kind, and the entry points."""
    if kind not in _loaded_kinds:
        _loaded_kinds.add(kind)
        package_name = f"toolbox.{kind}"
        with contextlib.suppress(ModuleNotFoundError):
            package = importlib.import_module(package_name)
            for module in pkgutil.iter_modules(package.__path__):
                if not module.name.startswith("_"):
                    importlib.import_module(f"{package_name}.{module.name}")
    _load_entry_points()


def _load_entry_points() -> None:
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as exc:  # a broken third-party plugin must not hide the others
            raise PluginError(f"entry point {entry.name!r} ({entry.value}) failed to load: {exc}") from exc


def _load_named(kind: str, name: str) -> None:
    """Import only the built-in module named like the plugin (`toolbox/filters/max_length.py`
    registers `max_length`), and the entry points: a build needs a handful of the plugins, and
    importing all of them (the LLM client, web pages, Ray's executor) took 0.4 s of every build.
    A name not found so: every module of its kind is imported."""
    _load_entry_points()
    if name not in _tables[kind] and name.isidentifier() and kind not in _loaded_kinds:
        module = f"toolbox.{kind}.{name}"
        with contextlib.suppress(ModuleNotFoundError):
            if importlib.util.find_spec(module) is not None:
                importlib.import_module(module)
    if name not in _tables[kind]:
        _load_kind(kind)


def load_plugin(spec: str, base_dir: Path | None = None) -> None:
    """Load a user's plugin: a .py path (relative to base_dir) or an importable module name."""
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise PluginError(f"plugins: file not found: {path}")
        module_name = f"datamakr_user_{path.stem}_{abs(hash(str(path.resolve()))) % 10**8}"
        if module_name in sys.modules:
            return
        spec_obj = importlib.util.spec_from_file_location(module_name, path)
        assert spec_obj is not None and spec_obj.loader is not None
        module = importlib.util.module_from_spec(spec_obj)
        sys.modules[module_name] = module
        try:
            spec_obj.loader.exec_module(module)
        except PluginError:
            raise
        except Exception as exc:
            del sys.modules[module_name]
            raise PluginError(f"plugins: {path} failed to load: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            importlib.import_module(spec)
        except ImportError as exc:
            raise PluginError(f"plugins: cannot import module {spec!r}: {exc}") from exc


def get(kind: str, name: str, where: str | None = None) -> Any:
    """The plugin `name` of `kind`; an unknown name is an error naming the closest ones."""
    _load_named(kind, name)
    table = _tables[kind]
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    known = ", ".join(sorted(table)) or "none"
    raise PluginError(f"{where or kind}: unknown {kind[:-1]} {name!r}{hint} (registered: {known})")


def names(kind: str) -> list[str]:
    _load_kind(kind)
    return sorted(_tables[kind])


def describe(kind: str) -> list[tuple[str, str]]:
    """(name, one-line description) for every plugin of a kind: the first docstring line."""
    _load_kind(kind)
    rows = []
    for name in sorted(_tables[kind]):
        doc = (getattr(_tables[kind][name], "__doc__", None) or "").strip().splitlines()
        rows.append((name, doc[0] if doc else ""))
    return rows
