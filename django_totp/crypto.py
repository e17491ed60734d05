"""Encryption of TOTP secrets at rest (R7).

Secrets are sealed with Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``. The Fernet
keys are derived with HKDF from ``TOTP_ENCRYPTION_KEYS`` or, by default, from ``SECRET_KEY``
and ``SECRET_KEY_FALLBACKS``, so rotating Django's secret key the documented way keeps old
secrets readable until ``manage.py totp_rotate_keys`` re-encrypts them under the newest key.

Recovery codes are stored as HMAC-SHA256 digests under keys derived the same way (R22): the codes
carry 60 random bits, so one fast keyed hash per key is enough, and a stolen table without the
key cannot be searched. A code stays usable while the key it was stored under is configured.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from .conf import conf

_HKDF_INFO = b"django_totp.secret-encryption.v1"
_DIGEST_INFO = b"django_totp.recovery-code-digest.v1"


class SecretDecryptionError(Exception):
    """No configured key opens the stored secret (keys changed without rotation)."""


def _key_material() -> tuple[str, ...]:
    configured = conf.TOTP_ENCRYPTION_KEYS
    if configured:
        return tuple(configured)
    return (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", []))


def _derive(key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key.encode())


@functools.lru_cache(maxsize=8)
def _fernet_for(material: tuple[str, ...]) -> MultiFernet:
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(_derive(key, _HKDF_INFO))) for key in material]
    )


@functools.lru_cache(maxsize=8)
def _digest_keys_for(material: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(_derive(key, _DIGEST_INFO) for key in material)


def _fernet() -> MultiFernet:
    return _fernet_for(_key_material())


def encrypt(secret: str) -> str:
    """Seal ``secret`` under the newest key."""
    return _fernet().encrypt(secret.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Open a sealed secret with any configured key."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "No key in TOTP_ENCRYPTION_KEYS / SECRET_KEY(_FALLBACKS) decrypts this secret."
        ) from exc


def reencrypt(token: str) -> str:
    """The same secret sealed under the newest key."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise SecretDecryptionError("No configured key decrypts this secret.") from exc


def digests(value: str) -> list[str]:
    """Keyed digests of ``value``, one per configured key, the newest key's first."""
    return [
        hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
        for key in _digest_keys_for(_key_material())
    ]
