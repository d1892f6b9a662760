"""Subcommands of build_data.py; every module here registers one with `@register_command`
(the registry imports them all)."""
