"""Pure recovery-code helpers (R22), with no Django imports.

A code is 12 characters of Crockford's base32 (60 bits from the OS CSPRNG), shown in groups of
four, e.g. ``k7m2-q9xw-4tpa``. Reading is forgiving the way Crockford intends: case, spaces and
hyphens do not matter, and ``o``, ``i`` and ``l`` are read as ``0``, ``1`` and ``1``.

Codes imported from other packages keep the form they were issued in (``verbatim``): that
reading would change them, so they are read with case, spaces and hyphens forgiven only (R36).
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: no i, l, o, u
CODE_LENGTH = 12  # SECURITY: 12 * 5 = 60 bits, above the 50 R22 asks for
GROUP = 4
CODE_COUNT = 10
_READ_AS = str.maketrans({"o": "0", "i": "1", "l": "1", " ": None, "-": None})
_ALPHABET_SET = frozenset(ALPHABET)
VERBATIM_MAX_LENGTH = 64  # django-otp's static tokens hold up to 16; allauth's are digits
_VERBATIM_PREFIX = "verbatim:"  # keeps these digests apart from those of our own codes
_SEPARATORS = str.maketrans("", "", " \t\n\r\f\v-")


def generate_codes(count: int = CODE_COUNT) -> list[str]:
    """``count`` distinct new codes in their canonical (ungrouped) form."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)))
    return sorted(codes)


def group(code: str) -> str:
    """``k7m2q9xw4tpa`` -> ``k7m2-q9xw-4tpa``, for reading and writing down."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalize(raw: str) -> str | None:
    """The canonical code for what a user typed, or ``None`` if it cannot be one.

    Only ASCII is considered, so look-alike and full-width characters never match (R12).
    """
    if len(raw) > 4 * CODE_LENGTH or not raw.isascii():
        return None
    candidate = raw.strip().lower().translate(_READ_AS)
    if len(candidate) != CODE_LENGTH or not _ALPHABET_SET.issuperset(candidate):
        return None
    return candidate


def normalize_verbatim(raw: str) -> str | None:
    """An imported code as it is compared: case, spaces and hyphens do not matter, as in
    allauth (django-otp's codes have none). ``None`` when it cannot be one: empty, too long, or
    not printable ASCII.
    """
    if len(raw) > 4 * VERBATIM_MAX_LENGTH:
        return None
    code = raw.lower().translate(_SEPARATORS)
    if not code or len(code) > VERBATIM_MAX_LENGTH or not code.isascii():
        return None
    if not code.isprintable():
        return None
    return code


def verbatim(raw: str) -> str | None:
    """What is digested for an imported code, from the code issued or the code typed."""
    code = normalize_verbatim(raw)
    return None if code is None else _VERBATIM_PREFIX + code


def readings(raw: str) -> list[str]:
    """What a typed recovery code may be, one string to digest per scheme that reads it."""
    found = [normalize(raw), verbatim(raw)]
    return [reading for reading in found if reading is not None]
