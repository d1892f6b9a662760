"""What the redactor looks for: one switch per kind, validated at the YAML boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolbox.core.plugin import Options

# kind -> placeholder label. `password` has no number: every password becomes `[PASSWORD]`.
KINDS: dict[str, str] = {
    "private_key": "PRIVATE_KEY",
    "api_key": "API_KEY",
    "token": "TOKEN",
    "secret": "SECRET",
    "password": "PASSWORD",
    "card": "CARD",
    "iban": "IBAN",
    "email": "EMAIL",
    "phone": "PHONE",
}


class RedactionOptions(Options):
    """Which kinds of sensitive text to replace. Every kind is on by default."""

    api_keys: bool = Field(
        True,
        description="provider keys: OpenAI, Anthropic, AWS, GitHub, GitLab, Slack, Google, Stripe, SendGrid, npm, PyPI, Hugging Face",
    )
    tokens: bool = Field(True, description="JWTs and `Bearer` tokens")
    private_keys: bool = Field(True, description="-----BEGIN ... PRIVATE KEY----- blocks")
    secrets: bool = Field(True, description="high-entropy values after words like key, token, secret")
    passwords: bool = Field(
        True, description="values after password words, passwords in URLs, text typed into sign-in fields"
    )
    cards: bool = Field(True, description="payment card numbers (Luhn and issuer checked)")
    ibans: bool = Field(True, description="IBANs (country length and mod-97 checked)")
    emails: bool = True
    phones: bool = True
    phone_region: str = Field(
        "US", min_length=2, max_length=2, description="region for phone numbers written without +country code"
    )
    secrets_engine: Literal["regex", "detect_secrets", "both"] = Field(
        "regex",
        description="regex: the built-in patterns; detect_secrets: Yelp detect-secrets plugins; both: their union (slower)",
    )
    phones_engine: Literal["phonenumbers", "regex"] = "phonenumbers"
    hide_unread: bool = Field(
        True,
        description="frames for a vision model: also black out text-like areas OCR read no word in (a missed secret)",
    )
    min_secret_entropy: float = Field(
        3.0, ge=0, le=8, description="bits per character a keyword value needs to count as a secret"
    )

    def enabled(self, kind: str) -> bool:
        return bool(getattr(self, _SWITCH[kind]))


_SWITCH = {
    "private_key": "private_keys",
    "api_key": "api_keys",
    "token": "tokens",
    "secret": "secrets",
    "password": "passwords",
    "card": "cards",
    "iban": "ibans",
    "email": "emails",
    "phone": "phones",
}
