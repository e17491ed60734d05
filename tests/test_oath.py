"""R1-R3, R8, R12: the pure algorithm module."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from django_totp import oath

SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
# RFC 6238 Appendix B: (time, sha1, sha256, sha512), 8 digits, 30 s steps.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
# RFC 4226 Appendix D: HOTP values for counters 0-9, 6 digits.
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
           "399871", "520489"]  # fmt: skip


def b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode()


@pytest.mark.parametrize(
    ("at", "algorithm", "expected"),
    [(row[0], algo, row[i + 1]) for row in RFC6238 for i, algo in enumerate(SEEDS)],
)
def test_rfc6238_appendix_b_vectors(at, algorithm, expected):
    step = oath.time_step(at, 30)
    code = oath.code_at_step(b32(SEEDS[algorithm]), step, digits=8, algorithm=algorithm)
    assert code == expected


def test_time_step_uses_a_64_bit_counter_beyond_2038():
    assert oath.time_step(20000000000, 30) == 0x27BC86AA


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_rfc4226_appendix_d_vectors(counter, expected):
    assert oath.code_at_step(b32(SEEDS["sha1"]), counter) == expected


def test_leading_zero_is_kept():
    step = oath.time_step(1111111109, 30)
    assert oath.code_at_step(b32(SEEDS["sha1"]), step, digits=8) == "07081804"


def test_secrets_are_160_bit_base32_and_unique():
    secrets = {oath.generate_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        assert len(base64.b32decode(secret)) == 20


class TestMatchStep:
    secret = b32(SEEDS["sha1"])
    at = 1111111109.0

    def code(self, offset: int) -> str:
        return oath.code_at_step(self.secret, oath.time_step(self.at, 30) + offset)

    def match(self, code: str, *, after_step: int | None = None, tolerance: int = 1):
        return oath.match_step(
            self.secret,
            code,
            at=self.at,
            period=30,
            digits=6,
            tolerance=tolerance,
            after_step=after_step,
        )

    @pytest.mark.parametrize("offset", [-1, 0, 1])
    def test_one_step_either_side_is_accepted(self, offset):
        step, replayed = self.match(self.code(offset))
        assert step == oath.time_step(self.at, 30) + offset and not replayed

    @pytest.mark.parametrize("offset", [-2, 2, -10, 10])
    def test_two_steps_away_is_refused(self, offset):
        assert self.match(self.code(offset)) == (None, False)

    def test_zero_tolerance_accepts_only_the_current_step(self):
        assert self.match(self.code(1), tolerance=0) == (None, False)
        assert self.match(self.code(0), tolerance=0)[0] is not None

    def test_a_step_at_or_before_the_last_used_one_is_a_replay(self):
        current = oath.time_step(self.at, 30)
        assert self.match(self.code(0), after_step=current) == (None, True)
        assert self.match(self.code(-1), after_step=current) == (None, True)
        assert self.match(self.code(1), after_step=current) == (current + 1, False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123456", "123456"),
        ("123 456", "123456"),
        ("123-456", "123456"),
        (" 12 34 56 ", "123456"),
        ("١٢٣٤٥٦", None),  # Arabic-Indic digits
        ("１２３４５６", None),  # full-width digits
        ("+123456", None),
        ("-12345", None),
        ("123_456", None),
        ("12345", None),
        ("1234567", None),
        ("12345a", None),
        ("", None),
        ("1" * 10_000, None),
        ("123456\x00", None),
        ("12345\u00b2", None),  # superscript two: isdigit() but not a digit we accept
    ],
)
def test_normalize_code_accepts_only_exactly_n_ascii_digits(raw, expected):
    assert oath.normalize_code(raw, 6) == expected


@pytest.mark.parametrize("account", ["a:b@x.com", "ü ser", "x&y=z?", "slash/name", "plain"])
def test_key_uri_round_trips_awkward_account_names(account):
    uri = oath.key_uri("JBSWY3DPEHPK3PXP", account=account, issuer="Acme: Corp")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    label = parts.path.lstrip("/")
    issuer_part, _, account_part = label.partition(":")
    assert unquote(issuer_part) == "Acme Corp"
    assert unquote(account_part) == account.replace(":", "")
    query = parse_qs(parts.query)
    assert query == {"secret": ["JBSWY3DPEHPK3PXP"], "issuer": ["Acme Corp"]}


def parse_label_like_freeotp_and_aegis(uri):
    """FreeOTP and Aegis URL-decode the whole label, then split it on the first ``:``."""
    label = unquote(urlsplit(uri).path.lstrip("/"))
    issuer, colon, account = label.partition(":")
    return (issuer, account) if colon else ("", label)


@pytest.mark.parametrize("issuer", ["Acme: Corp", ""])
@pytest.mark.parametrize("account", ["a:b@x.com", "::x::", "ü ser", "x&y=z?", "plain"])
def test_key_uri_label_splits_the_same_in_freeotp_and_aegis(account, issuer):
    uri = oath.key_uri("JBSWY3DPEHPK3PXP", account=account, issuer=issuer)
    issuer_part, account_part = parse_label_like_freeotp_and_aegis(uri)
    assert issuer_part == parse_qs(urlsplit(uri).query).get("issuer", [""])[0]
    assert issuer_part == issuer.replace(":", "")
    assert ":" not in account_part
    assert account_part == account.replace(":", "")


def test_key_uri_states_non_default_parameters_only():
    uri = oath.key_uri("JBSWY3DPEHPK3PXP", account="a", issuer="I", digits=8, period=60)
    query = parse_qs(urlsplit(uri).query)
    assert query["digits"] == ["8"] and query["period"] == ["60"]
    assert "algorithm" not in query


def test_key_uri_without_issuer_has_a_bare_label():
    uri = oath.key_uri("JBSWY3DPEHPK3PXP", account="bob", issuer="")
    assert uri == "otpauth://totp/bob?secret=JBSWY3DPEHPK3PXP"


def test_group_secret_for_manual_entry():
    assert oath.group_secret("ABCDEFGHIJ") == "ABCD EFGH IJ"
