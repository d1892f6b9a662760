"""Subcommands of build_data.py; every module here registers one with `@subcommand`."""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
