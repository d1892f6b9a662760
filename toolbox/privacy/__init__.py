"""Privacy: find and replace secrets and personal data before text leaves the process or
reaches an output (issue 6). `Redactor` + `RedactionMap` for text, `passwords` for sign-in
contexts and screenshots, `intervals` and `session` for a session's evidence before a
transcriber sees it, `episodes` for a finished episode, `exclusion` for excluded windows."""

from toolbox.privacy.detectors import Finding
from toolbox.privacy.options import KINDS, RedactionOptions
from toolbox.privacy.passwords import (
    blackout,
    is_sign_in_context,
    password_field_boxes,
    sensitive_word_boxes,
)
from toolbox.privacy.redactor import PASSWORD, RedactionMap, Redactor

__all__ = [
    "Finding",
    "KINDS",
    "PASSWORD",
    "RedactionMap",
    "RedactionOptions",
    "Redactor",
    "blackout",
    "is_sign_in_context",
    "password_field_boxes",
    "sensitive_word_boxes",
]
