"""Replace sensitive text with typed placeholders that stay consistent within an episode."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from toolbox.privacy.detectors import (
    DetectSecretsEngine,
    Finding,
    card_findings,
    email_findings,
    iban_findings,
    phone_findings_libphonenumber,
    phone_findings_regex,
    random_token_findings,
    regex_secret_findings,
    resolve_overlaps,
    screen_prefix_findings,
)
from toolbox.privacy.options import KINDS, RedactionOptions

PASSWORD = "[PASSWORD]"
_PLACEHOLDER = re.compile(r"\[(?:{})(?:_\d+)?\]".format("|".join(KINDS.values())))
_NUMBERED = re.compile(r"\[({})_(\d+)\]".format("|".join(KINDS.values())))
_KIND_OF_LABEL = {label: kind for kind, label in KINDS.items()}
# argument / metadata keys whose string value is a secret as a whole
_SECRET_KEY = re.compile(
    r"(?i)(passw(or)?d|passwd|passphrase|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|private[_-]?key)"
)


def _identity(kind: str, value: str) -> str:
    """What makes two spellings the same value (`4111 1111 ...` and `4111-1111-...`)."""
    if kind in ("card", "iban", "phone"):
        return re.sub(r"[^0-9A-Za-z+]", "", value).upper()
    if kind == "email":
        return value.lower()
    return value


class RedactionMap:
    """The placeholders given out within one episode (or session): the same value always gets
    the same placeholder, different values get different numbers. Make a new one for each
    episode, so numbers do not link episodes. It holds the raw values, so it is never written
    anywhere: its repr shows counts only."""

    def __init__(self) -> None:
        self._placeholders: dict[tuple[str, str], str] = {}
        self._numbers: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()  # replacements made, per kind
        self._known: dict[str, str] = {}  # value -> kind, replaced literally wherever it shows up
        self._values: dict[str, None] = {}  # raw values replaced, in order

    def placeholder(self, kind: str, value: str, identity: str = "") -> str:
        """The placeholder of `value`; `identity` (a normal form) overrides the value's own."""
        self._values[value] = None
        if kind == "password":
            return PASSWORD
        key = (kind, identity or _identity(kind, value))
        found = self._placeholders.get(key)
        if found is None:
            self._numbers[kind] += 1
            found = self._placeholders[key] = f"[{KINDS[kind]}_{self._numbers[kind]}]"
        return found

    def skip_used(self, text: str) -> None:
        """Number new placeholders after those already in `text` (text redacted earlier with
        another map), so a new value never takes the placeholder of an old one."""
        for m in _NUMBERED.finditer(text):
            kind = _KIND_OF_LABEL[m.group(1)]
            self._numbers[kind] = max(self._numbers[kind], int(m.group(2)))

    def remember(self, kind: str, value: str) -> None:
        """A value known to be secret (a password typed into a sign-in field): replaced wherever
        it appears later, even where no pattern would catch it."""
        value = value.strip()
        if len(value) >= 4 and kind in KINDS:
            self._known[value] = kind

    def known(self) -> dict[str, str]:
        return dict(self._known)

    def values(self) -> list[str]:
        """Every raw value replaced so far (for checks that no secret got through)."""
        return list(self._values) + list(self._known)

    def __repr__(self) -> str:
        return f"RedactionMap(counts={dict(self.counts)})"


_NUMBERS = (int, float, bool, type(None))


class Redactor:
    """Finds and replaces sensitive text. Stateless apart from its options: the per-episode
    state lives in the `RedactionMap` passed to each call."""

    MEMO_SIZE = 100_000

    def __init__(self, options: RedactionOptions | None = None) -> None:
        self.options = options or RedactionOptions()
        self._detect_secrets = DetectSecretsEngine() if self.options.secrets_engine != "regex" else None
        # pattern findings by (text, screen): a session repeats the same screen words and titles
        # in interval after interval, and the patterns depend only on the text and the options
        self._memo: dict[tuple[str, bool], list[Finding]] = {}

    def find(self, text: str, mapping: RedactionMap | None = None, screen: bool = False) -> list[Finding]:
        """Non-overlapping findings of the enabled kinds, in text order. `screen`: the text was
        read by OCR, so random-looking tokens count as secrets too (a misread key)."""
        if not text:
            return []
        known = [f for f in self._known_findings(text, mapping) if self.options.enabled(f.kind)]
        patterns = self._memo.get((text, screen))
        if patterns is None:
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            patterns = self._memo[(text, screen)] = self._pattern_findings(text, screen)
        return resolve_overlaps(known + patterns) if known else list(patterns)

    def _pattern_findings(self, text: str, screen: bool) -> list[Finding]:
        o = self.options
        found: list[Finding] = []
        if o.secrets_engine != "detect_secrets":
            found.extend(regex_secret_findings(text, o.min_secret_entropy))
        if screen and o.secrets:
            found.extend(random_token_findings(text))
        if screen and o.api_keys:
            found.extend(screen_prefix_findings(text))
        if self._detect_secrets is not None:
            found.extend(self._detect_secrets.find(text))
        if o.cards:
            found.extend(card_findings(text, screen))
        if o.ibans:
            found.extend(iban_findings(text, screen))
        if o.emails:
            found.extend(email_findings(text))
        if o.phones:
            if o.phones_engine == "phonenumbers":
                found.extend(phone_findings_libphonenumber(text, o.phone_region))
            else:
                found.extend(phone_findings_regex(text))
        found = [f for f in found if o.enabled(f.kind) and not _PLACEHOLDER.fullmatch(f.value)]
        return resolve_overlaps(found)

    def _known_findings(self, text: str, mapping: RedactionMap | None) -> Iterator[Finding]:
        if mapping is None:
            return
        for value, kind in mapping.known().items():
            start = text.find(value)
            while start >= 0:
                yield Finding(kind, start, start + len(value), value, "known")
                start = text.find(value, start + len(value))

    def redact(self, text: str, mapping: RedactionMap, screen: bool = False) -> str:
        """`text` with every finding replaced by its placeholder (`screen`: see `find`)."""
        findings = self.find(text, mapping, screen)
        if not findings:
            return text
        out: list[str] = []
        at = 0
        for f in findings:
            out.append(text[at : f.start])
            out.append(mapping.placeholder(f.kind, f.value, f.key))
            mapping.counts[f.kind] += 1
            at = f.end
        out.append(text[at:])
        return "".join(out)

    def redact_data(self, value: Any, mapping: RedactionMap, key: str | None = None) -> Any:
        """Strings anywhere inside dicts and lists redacted; a string under a key that names a
        password or secret (`password`, `api_key`, ...) is replaced as a whole."""
        kind_of = type(value)
        if kind_of in _NUMBERS:  # most leaves of evidence (boxes, confidences, times): nothing to redact
            return value
        if kind_of is list and all(type(v) in _NUMBERS for v in value):  # a box or a point
            return value
        if isinstance(value, str):
            if key is not None and value and _SECRET_KEY.search(key) and not _PLACEHOLDER.fullmatch(value):
                kind = "password" if re.search(r"(?i)pass|pwd", key) else "secret"
                if self.options.enabled(kind):
                    mapping.counts[kind] += 1
                    mapping.remember(kind, value)
                    return mapping.placeholder(kind, value)
            return self.redact(value, mapping)
        if isinstance(value, dict):
            return {k: self.redact_data(v, mapping, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_data(v, mapping, key) for v in value]
        if isinstance(value, tuple):
            if all(type(v) in _NUMBERS for v in value):  # a box or a point: nothing to redact
                return value
            return tuple(self.redact_data(v, mapping, key) for v in value)
        return value
