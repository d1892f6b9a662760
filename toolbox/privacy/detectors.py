"""Detectors: each finds spans of one or more kinds in a text.

`regex` rules cover provider keys whose shape is documented (a fixed prefix and length), plus
cards, IBANs and e-mail addresses, each confirmed by a checksum or a score where one exists.
Phones come from Google's libphonenumber (`phonenumbers`), which knows every country's
numbering plan. Yelp's `detect-secrets` plugins can be added for secrets (option
`secrets_engine`); bench/privacy_bench.py measures what each one catches and costs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from toolbox.privacy.checks import IBAN_LENGTHS, card_issuer_ok, char_classes, entropy, iban_ok, luhn_ok

# Which kind wins when two findings overlap: higher first (then the longer span).
PRIORITY = {
    "private_key": 9,
    "api_key": 8,
    "token": 7,
    "card": 6,
    "iban": 6,
    "password": 5,
    "secret": 4,
    "email": 3,
    "phone": 2,
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    value: str
    detector: str = ""
    key: str = ""  # a normal form when spellings differ (a phone number in E.164)


@dataclass(frozen=True)
class Rule:
    """A pattern for one kind; `group` is the part to replace, `check` confirms a match."""

    name: str
    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0
    check: Callable[[re.Match[str]], bool] | None = None
    # literal text every match holds (one of them; `fold`: in the case-folded text): a line
    # without any is not searched. Most screen lines hold no secret, and 18 searches of each
    # were a third of a warm rebuild's redaction (tests/test_privacy.py: a sample of each rule)
    needles: tuple[str, ...] = ()
    fold: bool = False

    def find(self, text: str) -> Iterator[Finding]:
        if self.needles:
            haystack = text.casefold() if self.fold else text
            if not any(needle in haystack for needle in self.needles):
                return
        for m in self.pattern.finditer(text):
            if m.group(self.group) is None or (self.check is not None and not self.check(m)):
                continue
            start, end = m.span(self.group)
            yield Finding(self.kind, start, end, m.group(self.group), self.name)


_B = r"(?<![A-Za-z0-9_])"  # token start: not inside a longer word
_E = r"(?![A-Za-z0-9_])"

PROVIDER_RULES: list[Rule] = [
    Rule(
        "private key block",
        "private_key",
        re.compile(
            # the whole block; cut off (no END line on screen): the header and the base64 lines after it
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----"
            # (the block ends before another BEGIN: one scan to the end per header would be quadratic)
            r"(?:(?:(?!-----BEGIN )[\s\S])*?-----END \1PRIVATE KEY\2-----|(?:\r?\n[ \t]*(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]{1,15}={1,2}|[A-Za-z-]+: [^\r\n]*)(?=[ \t]*(?:\r?\n|$)))*)"
        ),
        needles=("-----BEGIN ",),
    ),
    Rule("anthropic", "api_key", re.compile(_B + r"sk-ant-[a-z]{2,8}\d{0,3}-[A-Za-z0-9_-]{20,}"), needles=("sk-ant-",)),
    Rule(
        "openai",
        "api_key",
        re.compile(_B + r"sk-(?!ant-)(?:[a-z]{2,8}-)?[A-Za-z0-9_-]{20,}" + _E),
        check=lambda m: char_classes(m.group()) >= 3,
        needles=("sk-",),
    ),
    Rule(
        "aws access key id",
        "api_key",
        re.compile(_B + r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}" + _E),
        needles=("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
    ),
    Rule(
        "github",
        "api_key",
        re.compile(_B + r"(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,255})" + _E),
        needles=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    Rule(
        "gitlab",
        "api_key",
        re.compile(_B + r"gl(?:pat|dt|ft|soat|rt|cbt)-[A-Za-z0-9_-]{20,50}" + _E),
        needles=("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-"),
    ),
    Rule("slack", "api_key", re.compile(_B + r"xox[abposre]-[A-Za-z0-9-]{10,}" + _E), needles=("xox",)),
    Rule(
        "slack webhook",
        "api_key",
        re.compile(r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"),
        needles=("https://hooks.slack.com/services/T",),
    ),
    Rule("google api key", "api_key", re.compile(_B + r"AIza[0-9A-Za-z_-]{35}" + _E), needles=("AIza",)),
    Rule("google oauth token", "token", re.compile(_B + r"ya29\.[0-9A-Za-z_-]{20,}"), needles=("ya29.",)),
    Rule(
        "stripe",
        "api_key",
        re.compile(_B + r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}" + _E),
        needles=("_live_", "_test_"),
    ),
    Rule("sendgrid", "api_key", re.compile(_B + r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}" + _E), needles=("SG.",)),
    Rule("npm", "api_key", re.compile(_B + r"npm_[A-Za-z0-9]{36}" + _E), needles=("npm_",)),
    Rule("pypi", "api_key", re.compile(_B + r"pypi-AgE[A-Za-z0-9_-]{50,}"), needles=("pypi-AgE",)),
    Rule("hugging face", "api_key", re.compile(_B + r"hf_[A-Za-z]{34}" + _E), needles=("hf_",)),
    # the header stops before another `-eyJ`, where the next try starts (each try to the end: quadratic)
    Rule(
        "jwt",
        "token",
        re.compile(_B + r"eyJ(?=[A-Za-z0-9_-]{8})(?:[A-Za-z0-9_]|-(?!eyJ))++\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        needles=("eyJ",),
    ),
    Rule(
        "bearer",
        "token",
        re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)"),
        group=1,
        check=lambda m: char_classes(m.group(1)) >= 2,
        needles=("bearer",),
        fold=True,
    ),
    # a scheme has at most 32 characters (unbounded, every start in `a.a.a...` read to the end)
    Rule(
        "url password",
        "password",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^\s:/@]+:([^\s:/@]+)@"),
        group=1,
        needles=("://",),
    ),
]

# Words that name a secret in `name = value`, `name: value`, `"name": "value"`, `name is value`.
_PASSWORD_WORDS = r"passw(?:or)?d|passwd|pwd|passphrase|passcode|passwort|kennwort|mot de passe|contrase[nñ]a|senha"
_SECRET_WORDS = (
    r"secret|token|api[ _-]?key|apikey|access[ _-]?key|private[ _-]?key|client[ _-]?secret|"
    r"auth[ _-]?key|credentials?|license[ _-]?key|signing[ _-]?key|encryption[ _-]?key|\bkey"
)
# `name = value` where the name holds one of those words: the word, the rest of the name (no
# dots after the word), then an assignment and a value, quoted or not. Found in two steps (see
# `_assignments`) so that the time stays linear in the text.
_SECRET_NAME = re.compile(r"(?i)(?:(?P<pw>" + _PASSWORD_WORDS + r")|" + _SECRET_WORDS + r")[A-Za-z0-9_-]*+")
_ASSIGNED = re.compile(
    r"""(?i)["'\]]?[ \t]*(?::=|=>|[:=]|[ \t]is\b|[ \t]was\b)[ \t]*"""
    r"""(?:(?P<q>["'`])(?P<qv>[^"'`\r\n]{3,200}?)(?P=q)|(?P<v>[^\s"'`,;<>(){}\[\]]{4,200}))"""
)
# literal text each of the words above holds, case-folded (`_assignments` skips a text without any)
_SECRET_NEEDLES = (
    "passw",
    "pwd",
    "passp",
    "passc",
    "kennwort",
    "mot de passe",
    "contrase",
    "senha",
    "secret",
    "token",
    "key",
    "credential",
)
_SECRET_WORD_MAX = 16  # characters; longer than any of the words ("encryption key")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\.?")
_NOT_VALUES = {
    "none",
    "null",
    "nil",
    "true",
    "false",
    "undefined",
    "required",
    "optional",
    "incorrect",
    "invalid",
    "empty",
    "hidden",
    "string",
    "str",
    "bytes",
}


def _masked(value: str) -> bool:
    return set(value) <= set("*•●·x.")


def _assignments(text: str) -> Iterator[tuple[bool, re.Match[str]]]:
    """(is it a password, the assignment after the name) for each `name = value`, as the single
    pattern `[A-Za-z0-9_.-]*?(word)[A-Za-z0-9_-]*` + assignment would find them left to right.
    That pattern retried every start inside a long name, and every word in it, each to the end
    of the name: cubic on `passwordpassword...`. Here each name is read once: when no assignment
    follows it, another word of the same name ends at the same place and fails the same way,
    unless it runs past that place (`secret_api key = `), so only the last few characters are
    read again."""
    folded = text.casefold()
    if not any(needle in folded for needle in _SECRET_NEEDLES):
        return
    pos = 0
    while (name := _SECRET_NAME.search(text, pos)) is not None:
        assigned = _ASSIGNED.match(text, name.end())
        if assigned is not None:
            yield name.group("pw") is not None, assigned
            pos = assigned.end()
        else:
            pos = max(name.start() + 1, name.end() - _SECRET_WORD_MAX)


def keyword_findings(text: str, min_entropy: float) -> Iterator[Finding]:
    """Values after password/secret words. Passwords need only look unlike a word or a name
    in code; other secrets must also be long and random enough (entropy, character mix)."""
    for is_password, m in _assignments(text):
        quoted = m.group("qv") is not None
        group = "qv" if quoted else "v"
        value = m.group(group).strip()
        if (
            not value
            or value.lower() in _NOT_VALUES
            or _masked(value)
            or value[0] in "$%{#@<&"
            or value.startswith("[")
            or "{{" in value
        ):
            continue
        if not quoted and _IDENTIFIER.fullmatch(value) and ("." in value or not any(c.isdigit() for c in value)):
            continue  # a name, not a value: `password = password`, `token = self.token`, `key: Required`
        if not quoted and text[m.end(group) : m.end(group) + 1] in ("(", "["):
            continue  # a call or subscript in code
        start, end = m.span(group)
        if quoted:
            start += len(m.group(group)) - len(m.group(group).lstrip())
            end = start + len(value)
        if is_password:
            if quoted and " " in value and value.count(" ") > 2:
                continue  # a sentence in quotes, not a password
            yield Finding("password", start, end, value, "keyword")
        elif len(value) >= 8 and char_classes(value) >= 2 and entropy(value) >= min_entropy and " " not in value:
            yield Finding("secret", start, end, value, "keyword")


_CARD = re.compile(
    r"(?<![\d.,/:-])\d{4}(?:([ -]?)\d{4})(?:\1\d{4}){1,2}(?:\1\d{1,3})?(?![\d.,/:-]\d|\d)|(?<![\d.,/:-])\d{4}([ -]?)\d{6}\2\d{4,5}(?![\d]|[.,/:-]\d)"
)


# On screen, OCR may read a stray word between the groups of a card (`4111 4111 set 1111 Tit
# 1111 1111`) or misread a digit: four or five groups of four digits, at most one short word
# between two groups, whose first sixteen digits start like a card.
_SCREEN_CARD = re.compile(r"(?<![\d.,/:-])\d{4}(?:[ \t-]{1,3}(?:[^\s\d]{1,3}[ \t]{1,3})?\d{4}){3,4}(?![\d]|[.,/:-]\d)")


def card_findings(text: str, screen: bool = False) -> Iterator[Finding]:
    """`screen`: read by OCR; see `_SCREEN_CARD` (no Luhn check, as a digit may be misread)."""
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if card_issuer_ok(digits) and luhn_ok(digits):
            yield Finding("card", m.start(), m.end(), m.group(), "luhn")
    if screen:
        for m in _SCREEN_CARD.finditer(text):
            if card_issuer_ok(re.sub(r"\D", "", m.group())[:16]):
                yield Finding("card", m.start(), m.end(), m.group(), "groups (screen)")


_IBAN = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,3})?)(?![A-Za-z0-9])"
)


def iban_findings(text: str, screen: bool = False) -> Iterator[Finding]:
    """`screen`: read by OCR, which confuses O and 0, I and 1: a candidate of the right length
    for its country counts without the checksum."""
    for m in _IBAN.finditer(text):
        raw = m.group(1)
        if screen and IBAN_LENGTHS.get(raw[:2].upper()) == len(raw.replace(" ", "")):
            yield Finding("iban", m.start(1), m.end(1), raw, "length (screen)")
            continue
        while not iban_ok(raw.replace(" ", "").upper()):
            if " " not in raw:  # the match may run into the next word ("... 3000 and"): drop it
                break
            raw = raw.rsplit(" ", 1)[0]
        else:
            yield Finding("iban", m.start(1), m.start(1) + len(raw), raw, "mod97")


_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_NOT_PERSONAL_LOCAL = {"git"}  # git@github.com:owner/repo is a host, not an address


def email_findings(text: str) -> Iterator[Finding]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        if m.group().split("@", 1)[0].lower() in _NOT_PERSONAL_LOCAL:
            continue
        yield Finding("email", m.start(), m.end(), m.group(), "regex")


# Where a phone number could be: a run of digits and separators holding at least 7 digits
# (national numbers), or 5 after a `+` (the shortest international ones).
_DIGIT_RUN = re.compile(r"\+?\(?\d[\d \t().\-/]{3,}\d")


def phone_findings_libphonenumber(text: str, region: str) -> Iterator[Finding]:
    """Numbers libphonenumber finds and calls valid for their country (Leniency.VALID).

    The matcher is slow on long text (about 6 ms per 1,000 characters), so it runs only on the
    runs of digits that could hold a number, with one character of context on each side."""
    import phonenumbers

    for run in _DIGIT_RUN.finditer(text):
        if sum(c.isdigit() for c in run.group()) < (5 if run.group().startswith("+") else 7):
            continue
        offset = max(0, run.start() - 1)
        snippet = text[offset : run.end() + 1]
        for m in phonenumbers.PhoneNumberMatcher(snippet, region, leniency=phonenumbers.Leniency.VALID):
            start, end = offset + m.start, offset + m.end
            if m.raw_string.isdigit() and not _PHONE_WORD.search(text, max(0, start - 40), start):
                continue  # a bare run of digits is an id or a constant unless the text says phone
            e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            yield Finding("phone", start, end, m.raw_string, "phonenumbers", e164)


_PHONE_WORD = re.compile(
    r"(?i)\b(?:phone|tel|mobile|cell|call|fax|sms|text me|whatsapp|signal|contact|number|nr|no|telefon|t[ée]l[ée]phone|handy)\b"
)


_PHONE = re.compile(
    r"(?<![\w.+-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\d{2,4}[ .-])\d{2,4}[ .-]\d{2,4}(?:[ .-]\d{2,4})?(?![\w]|[.-]\d)"
)


def phone_findings_regex(text: str) -> Iterator[Finding]:
    """A plain pattern (for comparison in the bench): grouped digits, optional +country."""
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 7 <= len(digits) <= 15 and not m.group().isdigit():
            yield Finding("phone", m.start(), m.end(), m.group(), "regex")


# detect-secrets secret types -> our kinds (types not listed: api_key)
_DS_KIND = {
    "JSON Web Token": "token",
    "Secret Keyword": "secret",
    "Private Key": "private_key",
    "Basic Auth Credentials": "password",
}
_DS_SKIP = {"Public IP (ipv4)", "Base64 High Entropy String", "Hex High Entropy String"}
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-.+/=]*")


class DetectSecretsEngine:
    """Yelp detect-secrets' plugins run on each line. They report a value, not a span (and
    some report only a prefix, e.g. `ghp` for a GitHub token), so each value is found again
    in its line and widened to the whole token around it. Its entropy plugins flag every
    quoted word and are left out; IP addresses are not secrets here."""

    def __init__(self, all_plugins: bool = False) -> None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.settings import default_settings

        with default_settings():
            self.plugins = [
                cls()
                for name, cls in get_mapping_from_secret_type_to_class().items()
                if all_plugins or name not in _DS_SKIP
            ]

    def find(self, text: str) -> Iterator[Finding]:
        offset = 0
        for line in text.splitlines(keepends=True):
            if len(line.strip()) >= 8:
                yield from self._line(line, offset)
            offset += len(line)

    def _line(self, line: str, offset: int) -> Iterator[Finding]:
        for plugin in self.plugins:
            for secret in plugin.analyze_line(filename="screen.txt", line=line, line_number=1):
                value = secret.secret_value or ""
                at = line.find(value) if value else -1
                if at < 0:
                    continue
                end = at + len(value)
                end += _TOKEN_CHARS.match(line, end).end() - end  # type: ignore[union-attr]
                kind = _DS_KIND.get(secret.type, "api_key")
                if kind == "secret" and re.search(_PASSWORD_WORDS, line[:at], re.I):
                    kind = "password"
                yield Finding(kind, offset + at, offset + end, line[at:end], f"detect-secrets:{secret.type}")


_TOKEN = re.compile(r"[A-Za-z0-9_+/=-]{9,}")
_TOKEN_PART = re.compile(r"[_\-/=+.]")


def _char_class(c: str) -> int:
    return 0 if c.isdigit() else 1 if c.islower() else 2 if c.isupper() else 3


def random_token_findings(text: str) -> Iterator[Finding]:
    """Tokens that look random: a part of 9+ characters mixing letters and digits that flips
    between digits, lower and upper case often (a third of its length) with some entropy.
    For screen text (OCR), where a misread prefix or a space in the middle hides a key from
    the provider patterns. On ordinary prose and code it finds hashes and test tokens, and
    the odd name like `IPv4Address` (bench/RESULTS-privacy.md)."""
    for m in _TOKEN.finditer(text):
        for part in _TOKEN_PART.split(m.group()):
            if len(part) < 9 or not any(c.isdigit() for c in part) or not any(c.isalpha() for c in part):
                continue
            flips = sum(_char_class(a) != _char_class(b) for a, b in zip(part, part[1:]))
            if flips >= max(4, len(part) // 3) and entropy(part) >= 2.9:
                yield Finding("secret", m.start(), m.end(), m.group(), "random token")
                break


# Provider prefixes as OCR may break them off their key (`sk-proj -575yx8...`): the prefix and
# up to two following tokens that hold a digit.
_SCREEN_PREFIX = re.compile(
    r"(?<![A-Za-z0-9])(?:sk-(?:proj|ant|svcacct|admin)|sk[_-](?:live|test)|rk_live|gh[pousr]_|github[ _]pat|xox[abposre]-|"
    r"AKIA|ASIA|AIza|eyJ[A-Za-z0-9]|glpat-|hf_|npm_|pypi-)[^\s]*(?:[ \t]+(?=[^\s]*\d)[^\s]{4,}){0,2}"
)


def screen_prefix_findings(text: str) -> Iterator[Finding]:
    for m in _SCREEN_PREFIX.finditer(text):
        yield Finding("api_key", m.start(), m.end(), m.group(), "prefix (screen)")


def regex_secret_findings(text: str, min_entropy: float) -> Iterator[Finding]:
    for rule in PROVIDER_RULES:
        yield from rule.find(text)
    yield from keyword_findings(text, min_entropy)


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep non-overlapping findings: the higher-priority kind, then the longer span, wins."""
    ranked = sorted(findings, key=lambda f: (-PRIORITY[f.kind], -(f.end - f.start), f.start))
    kept: list[Finding] = []
    taken = bytearray(max((f.end for f in ranked), default=0))  # 1 where a kept finding is: linear, not pairwise
    for f in ranked:
        if f.end <= f.start or taken.find(1, f.start, f.end) >= 0:
            continue
        kept.append(f)
        taken[f.start : f.end] = b"\x01" * (f.end - f.start)
    return sorted(kept, key=lambda f: f.start)
