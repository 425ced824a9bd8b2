"""The built-in patterns: what each one takes, and the ordinary text each one leaves alone."""

from __future__ import annotations

import pytest
from tracesieve.processors.redaction import PatternsConfig, RedactionConfig, Redactor
from tracesieve.processors.redaction.patterns import iban_ok, luhn_ok


def redactor(**config: object) -> Redactor:
    return Redactor(RedactionConfig.model_validate({"enabled": True, "patterns": {"iban": True}, **config}))


def redact(text: str) -> str:
    return redactor().text(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to john.doe+shop@example.co.uk today", "write to [REDACTED:email] today"),
        ("<a.b@c.io>", "<[REDACTED:email]>"),
        ('{"email": "Bob_99@mail-server.example.com"}', '{"email": "[REDACTED:email]"}'),
    ],
)
def test_emails(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1111",  # Visa, spaces
        "4111-1111-1111-1111",
        "4111111111111111",
        "5555555555554444",  # Mastercard
        "2223003122003222",  # Mastercard 2-series
        "378282246310005",  # Amex, contiguous
        "3782 822463 10005",  # Amex 4-6-5
        "6011111111111117",  # Discover
        "3056 930902 5904",  # Diners 4-6-4
        "4222222222222",  # 13-digit Visa
    ],
)
def test_cards_that_pass_luhn(number: str) -> None:
    assert redact(f"card: {number}, thanks") == "card: [REDACTED:card], thanks"


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "4111111111111112",
        "order 1234567890123456",  # starts with 1: no card network
        "ts 1732876800000000000",  # Unix nanoseconds
        "0.3359380066394806",  # an embedding component
        "id 550e8400-e29b-41d4-a716-446655440000",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "4111111111111111111111",  # 22 digits: not a card number
    ],
)
def test_digit_runs_that_are_no_card_stay(text: str) -> None:
    assert redact(text) == text


def test_card_followed_by_its_expiry_date() -> None:
    assert redact("4111 1111 1111 1111 12/27") == "[REDACTED:card] 12/27"


@pytest.mark.parametrize(
    "number",
    [
        "+44 20 7946 0958",
        "+1 (415) 555-2671",
        "+33 1 23 45 67 89",
        "+49 151 12345678",
        "+4915112345678",
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "020 7946 0958",
        "07700 900123",
        "06 12 34 56 78",
        "030 12345678",
    ],
)
def test_phone_numbers(number: str) -> None:
    assert redact(f"call {number} now") == "call [REDACTED:phone] now"


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15",
        "15/01/2024",
        "01-02-2024 10:30",
        "2024-01-15T10:30:00Z",
        "gpt-4o-mini-2024-07-18",
        "version 1.2.3 and v10.4.12",
        "ip 192.168.1.254 port 4318",
        "order #1234567",
        "costs 1,234.56 or 1 234 567",
        "tokens 1500, year 2023 2024",
        "+1234567.89 and +15%",
        "sess-1-24 user-7993",
        "123-456-7890",  # no North American area code starts with 1
        "0 500 000",
        "isbn 978-3-16-148410-0",
        "chatcmpl-6110e5781bcccea696762e61",
    ],
)
def test_ordinary_numbers_dates_versions_and_ids_stay(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sk-proj-abcdefghijklmnopqrstuvwxyz0123", "[REDACTED:secret]"),
        ("sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "[REDACTED:secret]"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz_-0123", "[REDACTED:secret]"),
        ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:secret]"),
        ("ASIAIOSFODNN7EXAMPLE", "[REDACTED:secret]"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED:secret]"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "[REDACTED:secret]"),
        ("xoxb-1234567890-abcdefghij", "[REDACTED:secret]"),
        ("AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "[REDACTED:secret]"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "[REDACTED:secret]",
        ),
        ("Authorization: Bearer abcdef1234567890abcdef", "Authorization: Bearer [REDACTED:secret]"),
        ("authorization: bearer abcdef1234567890abcdef", "authorization: bearer [REDACTED:secret]"),
        ("api_key=abc123def456&page=2", "api_key=[REDACTED:secret]&page=2"),
        ('{"apiKey": "abc123def456"}', '{"apiKey": "[REDACTED:secret]"}'),
        ("PASSWORD: hunter22", "PASSWORD: [REDACTED:secret]"),
        ("client_secret = 'shhh-123456'", "client_secret = '[REDACTED:secret]'"),
        ('{\\"access_token\\": \\"abcdefgh\\"}', '{\\"access_token\\": \\"[REDACTED:secret]\\"}'),
    ],
)
def test_secrets(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "the task-abcdefghijklmnopqrstuvwxyz is done",  # sk- inside a word
        "max_tokens=512 and input_tokens: 1500",
        "the password field is required",  # no value after a separator
        "a bearer of good news",
        "Asia is large; AKIA alone is no key",
        "eyJ alone",
    ],
)
def test_text_that_only_looks_like_a_secret_stays(text: str) -> None:
    assert redact(text) == text


def test_iban_is_checked_mod_97() -> None:
    assert redact("IBAN DE89 3704 0044 0532 0130 00.") == "IBAN [REDACTED:iban]."
    assert redact("GB82WEST12345698765432") == "[REDACTED:iban]"
    assert redact("DE89 3704 0044 0532 0130 01") == "DE89 3704 0044 0532 0130 01"
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB83WEST12345698765432")


def test_iban_is_off_by_default() -> None:
    assert Redactor(RedactionConfig(enabled=True)).text("GB82WEST12345698765432") == "GB82WEST12345698765432"


def test_luhn() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def test_matches_right_after_a_json_escape_are_found_and_keep_the_json_valid() -> None:
    text = '[{"role":"user","content":"card:\\n4111111111111111\\tmail:\\nbob@example.com\\r\\n'
    text += '+44 20 7946 0958"}]'
    assert redact(text) == (
        '[{"role":"user","content":"card:\\n[REDACTED:card]\\tmail:\\n[REDACTED:email]\\r\\n[REDACTED:phone]"}]'
    )


@pytest.mark.parametrize("kind", ["email", "phone", "card", "secret"])
def test_each_pattern_can_be_switched_off(kind: str) -> None:
    samples = {
        "email": "bob@example.com",
        "phone": "+44 20 7946 0958",
        "card": "4111 1111 1111 1111",
        "secret": "AKIAIOSFODNN7EXAMPLE",
    }
    off = Redactor(RedactionConfig(enabled=True, patterns=PatternsConfig(**{kind: False})))
    for name, sample in samples.items():
        assert (off.text(sample) == sample) == (name == kind), name


def test_custom_patterns_are_named_and_run_first() -> None:
    r = redactor(custom={"employee_id": "EMP-[0-9]{6}", "ticket": r"(?i:tkt)#[0-9]+"})
    assert r.text("EMP-123456 filed TKT#42 from bob@example.com") == (
        "[REDACTED:employee_id] filed [REDACTED:ticket] from [REDACTED:email]"
    )
    assert r.redactions == {"employee_id": 1, "ticket": 1, "email": 1}


def test_hash_replacement_tells_values_apart_without_keeping_them() -> None:
    r = redactor(replacement="[{kind}:{hash}]", hash_key="k1")
    a, b, a2 = (r.text(x) for x in ("ann@example.com", "bob@example.com", "ann@example.com"))
    assert a == a2 != b and a.startswith("[email:") and len(a) == len("[email:]") + 12
    assert redactor(replacement="[{kind}:{hash}]", hash_key="k2").text("ann@example.com") != a


def test_long_text_without_matches_is_returned_as_is() -> None:
    text = "An ordinary answer about refunds and deliveries. " * 2000
    assert redact(text) is text
