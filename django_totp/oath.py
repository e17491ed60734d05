"""Pure TOTP helpers (RFC 6238 over RFC 4226), with no Django imports.

pyotp computes the codes; this module adds what a verifier needs around it: explicit time steps,
a bounded window that skips already-used steps, strict input parsing and a correct key URI.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from urllib.parse import quote, urlencode

import pyotp

SECRET_BYTES = 20  # SECURITY: 160 bits, the RFC 4226 recommendation (R2)
DEFAULT_ALGORITHM = "sha1"
_SEPARATORS = str.maketrans("", "", " -")
_ASCII_DIGITS = frozenset("0123456789")


def generate_secret() -> str:
    """A new base32 secret (no padding) of ``SECRET_BYTES`` from the OS CSPRNG."""
    return secret_from_bytes(secrets.token_bytes(SECRET_BYTES))


def secret_from_bytes(key: bytes) -> str:
    """A key held as bytes (django-otp keeps hex) as a base32 secret without padding."""
    return base64.b32encode(key).decode("ascii").rstrip("=")


def time_step(at: float, period: int) -> int:
    """The RFC 6238 counter T for a Unix time."""
    return int(at // period)


def code_at_step(
    secret: str, step: int, *, digits: int = 6, algorithm: str = DEFAULT_ALGORITHM
) -> str:
    """The zero-padded code for ``step``."""
    return pyotp.HOTP(secret, digits=digits, digest=algorithm).generate_otp(step)


def normalize_code(raw: str, digits: int) -> str | None:
    """Spaces and hyphens removed; ``None`` unless exactly ``digits`` ASCII digits remain.

    ``str.isdigit`` is not used because it accepts Arabic-Indic and full-width digits (R12).
    """
    if len(raw) > 4 * digits:
        return None
    candidate = raw.translate(_SEPARATORS)
    if len(candidate) != digits or not _ASCII_DIGITS.issuperset(candidate):
        return None
    return candidate


def match_step(
    secret: str,
    code: str,
    *,
    at: float,
    period: int,
    digits: int,
    tolerance: int,
    after_step: int | None,
    algorithm: str = DEFAULT_ALGORITHM,
) -> tuple[int | None, bool]:
    """Find the step in ``now ± tolerance`` whose code equals ``code``.

    Returns ``(step, replayed)``: the matching step that is newer than ``after_step``, or
    ``(None, True)`` when the code matches only a step already used, or ``(None, False)``.
    Every step in the window is compared so the time taken does not depend on which matched.
    """
    current = time_step(at, period)
    accepted: int | None = None
    replayed = False
    for step in range(current - tolerance, current + tolerance + 1):
        candidate = code_at_step(secret, step, digits=digits, algorithm=algorithm)
        # SECURITY: constant-time comparison of the submitted code.
        if hmac.compare_digest(candidate.encode(), code.encode()):
            # SECURITY: a step at or before the last accepted one is a replay (RFC 6238 s5.2).
            if after_step is not None and step <= after_step:
                replayed = True
            elif accepted is None:
                accepted = step
    return accepted, replayed and accepted is None


def label_parts(account: str, issuer: str) -> tuple[str, str]:
    """``(issuer, account)`` as an authenticator app shows them: without ``:`` (R3).

    Apps split the decoded label on its first ``:``, so a colon in either part would move text
    from the account into the issuer (Aegis) or make the code unreadable (FreeOTP).
    """
    return issuer.replace(":", "").strip(), account.replace(":", "")


def key_uri(
    secret: str,
    *,
    account: str,
    issuer: str,
    digits: int = 6,
    period: int = 30,
    algorithm: str = DEFAULT_ALGORITHM,
) -> str:
    """The ``otpauth://totp/`` URI of the Google Authenticator Key Uri Format.

    Built here rather than with ``pyotp.utils.build_uri`` because that leaves ``/`` unescaped
    in the label and keeps ``:`` in the issuer and the account, which splits the label in some
    apps: both lose their colons (``label_parts``).
    """
    issuer, account = label_parts(account, issuer)
    label = quote(account, safe="")
    params: dict[str, str | int] = {"secret": secret}
    if issuer:
        label = f"{quote(issuer, safe='')}:{label}"
        params["issuer"] = issuer
    if algorithm.lower() != DEFAULT_ALGORITHM:
        params["algorithm"] = algorithm.upper()
    if digits != 6:
        params["digits"] = digits
    if period != 30:
        params["period"] = period
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"


def group_secret(secret: str, size: int = 4) -> str:
    """The secret in space-separated groups, for typing it into an app by hand."""
    return " ".join(secret[i : i + size] for i in range(0, len(secret), size))
