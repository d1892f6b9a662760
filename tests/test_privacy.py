"""The redactor: every kind is caught in realistic forms, placeholders are consistent within
one map and independent across maps, switches work, ordinary numbers are left alone."""

from __future__ import annotations

import pytest

from toolbox.privacy import RedactionMap, RedactionOptions, Redactor
from toolbox.privacy.detectors import PROVIDER_RULES, keyword_findings

CAUGHT = {
    "api_key": [
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7cDE0fGH3iJK6lMN9oPQ2rST5uVW8xYZ",  # OpenAI project key
        "sk-9aZx3Qw7Er5Ty1Ui8Op2As4Df6Gh0Jk3Lz5Xc7Vb9Nm1Qw3Er5Ty",  # OpenAI legacy key
        "sk-ant-api03-Zx8Cv7Bn6Mm5Aa4Ss3Dd2Ff1Gg0Hh9Jj8Kk7Ll6Qq5Ww4Ee3Rr2Tt1Yy0Uu9Ii8Oo7Pp-AbCdEfAA",  # Anthropic
        "AKIAIOSFODNN7EXAMPLE",  # AWS access key id
        "ASIAY34FZKBOKMUTVV7A",  # AWS temporary key id
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",  # GitHub classic PAT
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",  # GitHub OAuth
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV1234",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",  # Slack bot token
        "xoxp-2837465019-2837465019-2837465019-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",  # Google API key
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",  # Stripe secret
        "rk_live_51H8sd7aKd93jfKs8dk3JdkS",  # Stripe restricted
    ],
    "token": [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ],
    "card": ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "6011111111111117", "4012888888881881"],
    "iban": [
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
    ],
    "email": ["alice@example.com", "Bob.Smith+news@mail.example.co.uk", "j_doe-42@uni-heidelberg.de"],
    "phone": ["(415) 555-2671", "+44 20 7946 0958", "+1-202-555-0143", "+49 30 901820", "415.555.2671"],
}


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize("kind,value", [(k, v) for k, vs in CAUGHT.items() for v in vs])
def test_every_kind_is_caught_in_a_sentence(redactor: Redactor, kind: str, value: str) -> None:
    mapping = RedactionMap()
    out = redactor.redact(f"Here it is: {value} -- keep it safe.", mapping)
    assert value not in out
    assert (
        out == f"Here it is: [{ {'api_key': 'API_KEY', 'token': 'TOKEN'}.get(kind, kind.upper()) }_1] -- keep it safe."
    )
    assert mapping.counts == {kind: 1}


@pytest.mark.parametrize(
    "text,secret,placeholder",
    [
        (
            "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "[SECRET_1]",
        ),
        ('{"client_secret": "9c1f7e2a44b05d83c6e1aa90f3b2d7e8"}', "9c1f7e2a44b05d83c6e1aa90f3b2d7e8", "[SECRET_1]"),
        ("my api key is Zq81mX0pLk27Vb93NcRt", "Zq81mX0pLk27Vb93NcRt", "[SECRET_1]"),
        ("API_TOKEN=e5a2af69f111ea25bcb26ee8f4642cd1", "e5a2af69f111ea25bcb26ee8f4642cd1", "[SECRET_1]"),
        ("send it to AT611904300234573201 and then stop", "AT611904300234573201", "[IBAN_1] and then stop"),
        ("Authorization: Bearer 7fG2kLq9XzP4mN8vR1tY6wE3", "7fG2kLq9XzP4mN8vR1tY6wE3", "[TOKEN_1]"),
        ("password = 'hunter2xyz!'", "hunter2xyz!", "[PASSWORD]"),
        ("Password: Tr0ub4dor&3", "Tr0ub4dor&3", "[PASSWORD]"),
        ("the wifi password is CorrectHorse7", "CorrectHorse7", "[PASSWORD]"),
        ("postgres://admin:s3cr3tPass@db.internal:5432/app", "s3cr3tPass", "[PASSWORD]"),
    ],
)
def test_values_after_secret_words(redactor: Redactor, text: str, secret: str, placeholder: str) -> None:
    out = redactor.redact(text, RedactionMap())
    assert secret not in out and placeholder in out


def test_private_key_block_whole_and_cut_off(redactor: Redactor) -> None:
    block = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\nAAAAMwAAAAtzc2gtZWQyNTUxOQ==\n-----END OPENSSH PRIVATE KEY-----"
    out = redactor.redact(f"key:\n{block}\nthen more text", RedactionMap())
    assert out == "key:\n[PRIVATE_KEY_1]\nthen more text"
    # a screenshot shows only the top of the key: the base64 lines still go, the prose stays
    cut = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\nZ1BjP5CE/Wm/Rr500P\nnext paragraph here"
    assert redactor.redact(cut, RedactionMap()) == "[PRIVATE_KEY_1]\nnext paragraph here"


def test_same_value_same_placeholder_within_a_map_not_across(redactor: Redactor) -> None:
    first = RedactionMap()
    a = redactor.redact("mail alice@example.com, then bob@example.org, then ALICE@example.com again", first)
    assert a == "mail [EMAIL_1], then [EMAIL_2], then [EMAIL_1] again"
    b = redactor.redact("card 4111 1111 1111 1111 = 4111-1111-1111-1111 = 4111111111111111; bob@example.org", first)
    assert b == "card [CARD_1] = [CARD_1] = [CARD_1]; [EMAIL_2]"  # same map: bob keeps his number
    c = redactor.redact("phone (415) 555-2671 or +1 415 555 2671", first)
    assert c == "phone [PHONE_1] or [PHONE_1]"
    second = RedactionMap()  # a new episode: numbering starts over, nothing links the two
    assert redactor.redact("bob@example.org", second) == "[EMAIL_1]"
    assert "alice@example.com" not in repr(first)


def test_remembered_password_is_replaced_wherever_it_shows_up(redactor: Redactor) -> None:
    mapping = RedactionMap()
    mapping.remember("password", "plainwords")  # typed into a sign-in field: no pattern would see it
    assert redactor.redact("the screen echoed plainwords back", mapping) == "the screen echoed [PASSWORD] back"


@pytest.mark.parametrize(
    "switch,text,kept",
    [
        ("emails", "write to alice@example.com", "alice@example.com"),
        ("phones", "call (415) 555-2671", "(415) 555-2671"),
        ("cards", "card 4111 1111 1111 1111", "4111 1111 1111 1111"),
        ("ibans", "iban DE89370400440532013000", "DE89370400440532013000"),
        ("api_keys", "key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("passwords", "password: hunter2!", "hunter2!"),
    ],
)
def test_each_kind_can_be_switched_off(switch: str, text: str, kept: str) -> None:
    assert kept not in Redactor().redact(text, RedactionMap())
    off = Redactor(RedactionOptions(**{switch: False}))
    assert kept in off.redact(text, RedactionMap())


def test_unknown_option_is_an_error() -> None:
    with pytest.raises(ValueError, match="email"):
        RedactionOptions(email=False)  # the switch is `emails`


ORDINARY = [
    "Order #4111111111111112 shipped",  # 16 digits failing Luhn
    "invoice 1234567890123456 and order 9876543210987654",
    "at 1767225600 (unix) or 1767225600123 ms, 2026-01-01T00:00:00Z",
    "Python 3.11.7, numpy 2.4.6, version 10.0.19045.3803",
    "fixed in commit 3f786850e387550fdab836ed7e6dc881de23001b (see 3f78685)",
    "uuid 123e4567-e89b-12d3-a456-426614174000 and sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "int max is 2147483647 and 4294967295; port 8080; pid 40213",
    "Revenue grew 12,345,678 in 2024 (up 3.4%) across 1,024 stores",
    "the token is valid for one hour; enter your password below",
    "password = getpass.getpass(); token = self._next_token(); api_key = os.environ['KEY']",
    "if key == 'a': password_required = True",
    "see RFC 3339 and ISO 8601; ISBN 978-0-13-110362-7",
    "DE12 is not an IBAN, nor is GB00 WEST 1234 5698 7654 32",
    "@dataclass\nclass Foo:\n    x: int = 0  # user@host is not an address",
    "git clone git@github.com:python/cpython.git",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_alone(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text, RedactionMap()) == text


def test_detect_secrets_engine_adds_its_finds() -> None:
    both = Redactor(RedactionOptions(secrets_engine="both"))
    only = Redactor(RedactionOptions(secrets_engine="detect_secrets"))
    text = "key 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 and ghp_16C7e42F292c6912E7710c838347Ae178B4a"
    assert "SG." not in both.redact(text, RedactionMap())
    out = only.redact(text, RedactionMap())
    assert "ghp_16C7" not in out and "178B4a" not in out  # its `ghp` match is widened to the whole token


RANDOM = "Zx8Cv7Bn6Mm5Aa4Ss3Dd2Ff1Gg0Hh9Jj8Kk7Ll6Qq5Ww4Ee3Rr2Tt1Yy0Uu9Ii8Oo7Pp0AaBbCcDdEe"
# One sample of every provider rule, as the rule is named: a rule skips a text without any of
# its `needles`, so a needle that is not in every match would hide that provider's secrets.
RULE_SAMPLES = {
    "private key block": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    "anthropic": "sk-ant-api03-Zx8Cv7Bn6Mm5Aa4Ss3Dd2Ff1Gg0Hh9Jj8Kk7Ll6Qq5Ww4Ee3Rr2Tt1Yy0Uu9Ii8Oo7Pp-AbCdEfAA",
    "openai": "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7cDE0fGH3iJK6lMN9oPQ2rST5uVW8xYZ",
    "aws access key id": "A3T9IOSFODNN7EXAMPLE",
    "github": "ghr_16C7e42F292c6912E7710c838347Ae178B4a",
    "gitlab": "glpat-Zx8Cv7Bn6Mm5Aa4Ss3Dd2",
    "slack": "xoxe-1234567890-abcdefABCDEF",
    "slack webhook": "https://hooks.slack.com/services/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",
    "google api key": "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "google oauth token": "ya29.a0AfH6SMBx8Cv7Bn6Mm5Aa4Ss3Dd2Ff1Gg0",
    "stripe": "rk_test_51H8sd7aKd93jfKs8dk3JdkS",
    "sendgrid": "SG." + RANDOM[:22] + "." + RANDOM[22:65],
    "npm": "npm_" + RANDOM[:36],
    "pypi": "pypi-AgEIcHlwaS5vcmcCJGQ4ZDk1NjUzLTNlYWQtNDk2Yy1hNzQ1LWEyNjU0ZTMyNmY4ZgACKlsz",
    "hugging face": "hf_" + "".join(c for c in RANDOM if c.isalpha())[:34],
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer": "BEARER 7fG2kLq9XzP4mN8vR1tY6wE3",
    "url password": "mysql://admin:s3cr3tPass@db.internal",
}


@pytest.mark.parametrize("rule", PROVIDER_RULES, ids=lambda rule: rule.name)
def test_every_provider_rule_finds_its_sample_in_a_screen_line(rule) -> None:
    sample = RULE_SAMPLES[rule.name]  # a new rule needs a sample here
    found = list(rule.find(f"copied from the console: {sample} (do not share)"))
    assert found and found[0].kind == rule.kind and found[0].value in sample


@pytest.mark.parametrize(
    "text",
    [
        "PASSPHRASE: x7Gq9!rT",
        "DB_PWD=x7Gq9!rT",
        "Passcode: 8812x!",
        "Kennwort = geheim12!",
        "mot de passe : geheim12!",
        "contraseña: abc123XYZ",
        "Senha: abc123XYZ",
        "Credentials=Zq81mX0pLk27Vb93NcRt",
        "CLIENT_SECRET=Zq81mX0pLk27Vb93NcRt",
        "Access Token: Zq81mX0pLk27Vb93NcRt",
        "Signing-Key = Zq81mX0pLk27Vb93NcRt",
    ],
)
def test_secret_words_are_found_in_any_case(text: str) -> None:
    assert list(keyword_findings(text, 3.0))
