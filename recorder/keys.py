"""Canonical key names and produced text from pynput key objects (duck-typed, so this module
imports without a display)."""

from __future__ import annotations

from typing import Any

# Keys whose press types text even though pynput gives them no `char`.
_TYPED = {"space": " ", "enter": "\n", "tab": "\t"}
_BARE_VK = {  # X11 keysyms pynput reports as bare vk codes: the keypad, Meta
    0xFF8D: ("kp_enter", "\n"),
    0xFFAA: ("*", "*"),
    0xFFAB: ("+", "+"),
    0xFFAD: ("-", "-"),
    0xFFAE: (".", "."),
    0xFFAF: ("/", "/"),
    **{0xFFB0 + i: (str(i), str(i)) for i in range(10)},
    # X keymaps give Alt with shift held as Meta: ctrl+shift+alt+p is still ctrl, shift, alt, p
    0xFFE7: ("alt", None),
    0xFFE8: ("alt_r", None),
}
MODIFIER_GROUP = {
    "shift": "shift",
    "shift_l": "shift",
    "shift_r": "shift",
    "ctrl": "ctrl",
    "ctrl_l": "ctrl",
    "ctrl_r": "ctrl",
    "alt": "alt",
    "alt_l": "alt",
    "alt_r": "alt",
    "alt_gr": "alt",
    "cmd": "cmd",
    "cmd_l": "cmd",
    "cmd_r": "cmd",
}


def describe(key: Any) -> tuple[str, str | None]:
    """(canonical name, produced text) for a pynput Key or KeyCode.

    Named keys give their enum name (`enter`, `shift`, `ctrl_l`); character keys give the
    character as pynput reports it (shift, caps lock and layout applied: `a`, `A`, `,`).
    Control characters (ctrl+letter on some backends) map back to the letter and type nothing."""
    name = getattr(key, "name", None)
    if name is not None and not hasattr(key, "char"):  # pynput Key enum member
        return name, _TYPED.get(name)
    char = getattr(key, "char", None)
    if char:
        if len(char) == 1 and ord(char) < 32:
            return chr(ord(char) + 96), None
        if char == "\x7f":
            return "delete", None
        return char, char
    vk = getattr(key, "vk", None)
    if vk in _BARE_VK:
        return _BARE_VK[vk]
    if vk is not None:
        return f"vk_{vk}", None
    return "unknown", None
