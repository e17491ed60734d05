"""R7: secrets at rest."""

from __future__ import annotations

import base64

import pytest
from django.db import connection

from django_totp import crypto
from django_totp.models import TOTPDevice


def test_round_trip():
    assert crypto.decrypt(crypto.encrypt("JBSWY3DPEHPK3PXP")) == "JBSWY3DPEHPK3PXP"


def test_ciphertexts_differ_for_the_same_secret():
    assert crypto.encrypt("JBSWY3DPEHPK3PXP") != crypto.encrypt("JBSWY3DPEHPK3PXP")


@pytest.mark.django_db
def test_raw_column_holds_neither_base32_nor_hex_of_the_secret(device):
    secret = device.secret
    hex_secret = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encrypted_secret FROM django_totp_totpdevice WHERE id = %s", [device.pk]
        )
        (raw,) = cursor.fetchone()
    for form in (secret, secret.lower(), hex_secret, hex_secret.upper()):
        assert form not in raw


def test_secret_key_rotation_keeps_old_secrets_readable(settings):
    settings.SECRET_KEY = "old-secret-key-" + "x" * 40
    token = crypto.encrypt("JBSWY3DPEHPK3PXP")
    settings.SECRET_KEY = "new-secret-key-" + "y" * 40
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-" + "x" * 40]
    assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"
    rotated = crypto.reencrypt(token)
    settings.SECRET_KEY_FALLBACKS = []
    assert crypto.decrypt(rotated) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt(token)


def test_explicit_encryption_keys_take_precedence(settings):
    settings.TOTP_ENCRYPTION_KEYS = ["k" * 40]
    token = crypto.encrypt("JBSWY3DPEHPK3PXP")
    settings.TOTP_ENCRYPTION_KEYS = ["other" * 10]
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt(token)
    settings.TOTP_ENCRYPTION_KEYS = ["other" * 10, "k" * 40]
    assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"


def test_a_tampered_ciphertext_is_refused():
    token = crypto.encrypt("JBSWY3DPEHPK3PXP")
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt(tampered)


@pytest.mark.django_db
def test_device_secret_is_only_stored_encrypted(user):
    device = TOTPDevice.new_pending(user)
    assert device.secret not in device.encrypted_secret
