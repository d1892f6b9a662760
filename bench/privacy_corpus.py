"""Corpora for the privacy bench: ordinary text (no secrets planted) and a planted corpus
(secrets of every kind in realistic surroundings, generated from a seed)."""

from __future__ import annotations

import base64
import json
import random
import string
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

from toolbox.privacy.checks import IBAN_LENGTHS, luhn_ok

ROOT = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])
CODE_FILES = [
    "argparse.py",
    "smtplib.py",
    "urllib/parse.py",
    "http/cookiejar.py",
    "email/utils.py",
    "ssl.py",
    "getpass.py",
    "netrc.py",
    "secrets.py",
    "hashlib.py",
    "uuid.py",
    "ftplib.py",
    "imaplib.py",
    "json/encoder.py",
    "logging/__init__.py",
    "subprocess.py",
    "datetime.py",
    "configparser.py",
    "base64.py",
    "hmac.py",
]
LICENSES = ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0"]


def ordinary_texts() -> dict[str, str]:
    """Prose (the Python language reference topics, two licences), code (20 stdlib modules)
    and the sample session's typed text and window titles."""
    from pydoc_data import topics

    out = {"prose: Python reference (pydoc topics)": "\n\n".join(topics.topics.values())}
    out["prose: GPL-3 + Apache-2.0 licences"] = "\n\n".join(Path(p).read_text() for p in LICENSES if Path(p).exists())
    out["code: 20 stdlib modules"] = "\n".join((STDLIB / f).read_text() for f in CODE_FILES)
    out["sample session (typed text, titles)"] = sample_session_text()
    return out


def _event_files() -> list[str]:
    """The sample sessions' events; from git's HEAD when the working tree has none."""
    files = sorted((ROOT / "examples" / "sessions").glob("*/events.jsonl"))
    if files:
        return [f.read_text() for f in files]
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "HEAD", "examples/sessions"], cwd=ROOT, capture_output=True, text=True
    )
    names = [n for n in listed.stdout.split() if n.endswith("events.jsonl")]
    return [
        subprocess.run(["git", "show", f"HEAD:{n}"], cwd=ROOT, capture_output=True, text=True).stdout for n in names
    ]


def sample_session_text() -> str:
    typed: list[str] = []
    for events in _event_files():
        for line in events.splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            if event.get("type") == "key" and event.get("pressed") and event.get("char"):
                typed.append(event["char"])
            elif event.get("type") == "key" and event.get("pressed") and event.get("key") == "enter":
                typed.append("\n")
            elif event.get("type") == "window":
                typed.append(f"\n{event.get('title', '')}\n")
            elif event.get("type") == "marker" and event.get("text"):
                typed.append(f"\n{event['text']}\n")
    return "".join(typed)


@dataclass
class Planted:
    kind: str  # the kind the redactor should report
    form: str  # which form of the kind (for the per-form table)
    value: str  # what must not survive
    text: str  # the value in its surroundings


def _rand(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _card(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return next(body + d for d in string.digits if luhn_ok(body + d))


def _grouped(value: str, sep: str) -> str:
    return sep.join(value[i : i + 4] for i in range(0, len(value), 4))


def _iban(rng: random.Random, country: str) -> str:
    bban = "".join(rng.choice(string.digits) for _ in range(IBAN_LENGTHS[country] - 4))
    if country == "GB":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + bban[4:]
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


SURROUNDINGS = [
    "Here it is: {v}",
    "ok so the value is {v} and then we deploy",
    "{v}",
    '    "value": "{v}",',
    "- {v} (copied from the dashboard)",
]


def planted(seed: int = 7, per_form: int = 12) -> list[Planted]:
    rng = random.Random(seed)
    items: list[Planted] = []

    def add(kind: str, form: str, make, wrap=None) -> None:  # type: ignore[no-untyped-def]
        for i in range(per_form):
            value = make()
            text = (wrap or SURROUNDINGS[i % len(SURROUNDINGS)]).format(v=value)
            items.append(Planted(kind, form, value, text))

    add(
        "api_key",
        "openai sk-proj",
        lambda: "sk-proj-" + _rand(rng, 48, string.ascii_letters + string.digits + "_-") + "A1",
    )
    add("api_key", "openai legacy", lambda: "sk-" + _rand(rng, 20) + "T3BlbkFJ" + _rand(rng, 20))
    add(
        "api_key",
        "anthropic",
        lambda: "sk-ant-api03-" + _rand(rng, 93, string.ascii_letters + string.digits + "_-") + "AA",
    )
    add("api_key", "aws key id", lambda: "AKIA" + _rand(rng, 16, string.ascii_uppercase + string.digits))
    add(
        "secret",
        "aws secret (env)",
        lambda: _rand(rng, 40, string.ascii_letters + string.digits + "/+"),
        "export AWS_SECRET_ACCESS_KEY={v}",
    )
    add("api_key", "github ghp", lambda: "ghp_" + _rand(rng, 36))
    add(
        "api_key",
        "github_pat",
        lambda: "github_pat_11" + _rand(rng, 20, string.ascii_uppercase + string.digits) + "_" + _rand(rng, 59),
    )
    add(
        "api_key",
        "slack xoxb",
        lambda: f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-" + _rand(rng, 24),
    )
    add("api_key", "google AIza", lambda: "AIza" + _rand(rng, 35, string.ascii_letters + string.digits + "_-"))
    add("api_key", "stripe sk_live", lambda: "sk_live_" + _rand(rng, 24))
    add(
        "token",
        "jwt",
        lambda: (
            f"eyJ{_b64({'alg': 'HS256', 'typ': 'JWT'})[3:]}.{_b64({'sub': _rand(rng, 8), 'iat': rng.randrange(10**9, 2 * 10**9)})}.{_rand(rng, 43, string.ascii_letters + string.digits + '_-')}"
        ),
    )
    add(
        "private_key",
        "private key block",
        lambda: (
            "-----BEGIN RSA PRIVATE KEY-----\n"
            + "\n".join(_rand(rng, 64, string.ascii_letters + string.digits + "+/") for _ in range(4))
            + "\n-----END RSA PRIVATE KEY-----"
        ),
        "key file:\n{v}\n",
    )
    add("secret", "token= (hex)", lambda: _rand(rng, 32, "0123456789abcdef"), "API_TOKEN={v}")
    add("secret", '"secret": json', lambda: _rand(rng, 28), '{{"client_secret": "{v}"}}')
    add(
        "password",
        "password: value",
        lambda: _rand(rng, 6, string.ascii_letters) + str(rng.randrange(10, 99)) + rng.choice("!#%&"),
        "Password: {v}",
    )
    add("password", "url user:pass@", lambda: _rand(rng, 10) + "9", "postgres://admin:{v}@db.internal:5432/app")
    add("card", "visa spaced", lambda: _grouped(_card(rng, "4", 16), " "))
    add("card", "mastercard plain", lambda: _card(rng, str(rng.randrange(51, 56)), 16))
    add("card", "amex", lambda: _card(rng, rng.choice(["34", "37"]), 15))
    add("card", "visa dashed", lambda: _grouped(_card(rng, "4", 16), "-"))
    add("iban", "iban DE grouped", lambda: _grouped(_iban(rng, "DE"), " "))
    add(
        "iban",
        "iban compact (mixed countries)",
        lambda: _iban(rng, rng.choice(["GB", "FR", "NL", "ES", "IT", "CH", "AT", "BE"])),
    )
    add(
        "email",
        "email",
        lambda: (
            rng.choice(["alice", "b.smith", "j_doe42", "kim+news", "o'brien"]).replace("'", "")
            + str(rng.randrange(100))
            + "@"
            + rng.choice(["example.com", "mail.co.uk", "uni-heidelberg.de", "corp.io"])
        ),
    )
    add(
        "phone",
        "US (xxx) xxx-xxxx",
        lambda: "({}) {}-{}".format(
            rng.choice(["415", "212", "617", "303"]), rng.randrange(200, 999), rng.randrange(1000, 9999)
        ),
    )
    add("phone", "international +CC", lambda: _intl_phone(rng))
    add(
        "phone",
        "US dotted in a sentence",
        lambda: "{}.{}.{}".format(
            rng.choice(["415", "212", "617", "303"]), rng.randrange(200, 999), rng.randrange(1000, 9999)
        ),
        "call me at {v} tomorrow",
    )
    return items


def _intl_phone(rng: random.Random) -> str:
    region = rng.choice(["GB", "DE", "FR", "ES", "IT", "NL", "JP", "AU", "BR", "IN"])
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    digits = national[:2] + "".join(rng.choice(string.digits) for _ in national[2:])
    number = phonenumbers.parse(f"+{example.country_code}{digits}")
    if not phonenumbers.is_valid_number(number):
        number = example
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# Runs that drove patterns to quadratic or worse time: one letter (a name with no end), base64,
# digits, the separators of names and addresses, names full of secret words, headers with no
# end, findings packed tight. Each run is a long "token" for some rule.
ADVERSARIAL_UNITS = [
    "A",
    "7",
    "@",
    ".",
    "-",
    "a.",
    "a-",
    "a@",
    "1 ",
    "aB3",
    "password",
    "eyJ-",
    "sk-",
    "-----BEGIN PRIVATE KEY-----\n",
    "a@b.co ",
    "4111 1111 1111 1111 ",
]


def adversarial_text(size: int, seed: int = 3) -> str:
    """`size` characters: one long run of each of ADVERSARIAL_UNITS, plus one of random base64
    characters, separated by newlines."""
    rng = random.Random(seed)
    run = size // (len(ADVERSARIAL_UNITS) + 1)
    runs = [(unit * (run // len(unit) + 1))[: run - 1] for unit in ADVERSARIAL_UNITS]
    runs.append(_rand(rng, run - 1, string.ascii_letters + string.digits + "+/="))
    text = "\n".join(runs) + "\n"
    return text + "x" * (size - len(text))
