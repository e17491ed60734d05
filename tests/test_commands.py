from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from django_totp import crypto

from .conftest import make_device

pytestmark = pytest.mark.django_db
OLD, NEW = "old-key-" + "o" * 40, "new-key-" + "n" * 40


def test_rotate_keys_moves_every_secret_to_the_newest_key(user, settings):
    settings.TOTP_ENCRYPTION_KEYS = [OLD]
    devices = [make_device(user), make_device(user, confirmed=False)]
    secrets = [d.secret for d in devices]
    settings.TOTP_ENCRYPTION_KEYS = [NEW, OLD]
    out = io.StringIO()
    call_command("totp_rotate_keys", stdout=out)
    assert "Re-encrypted 2 secret(s)" in out.getvalue()
    settings.TOTP_ENCRYPTION_KEYS = [NEW]
    for device, secret in zip(devices, secrets, strict=True):
        device.refresh_from_db()
        assert device.secret == secret


def test_rotate_keys_changes_nothing_when_a_secret_cannot_be_read(user, settings):
    settings.TOTP_ENCRYPTION_KEYS = [OLD]
    readable = make_device(user)
    before = readable.encrypted_secret
    settings.TOTP_ENCRYPTION_KEYS = ["unrelated-" + "u" * 40]
    orphan = make_device(user)
    settings.TOTP_ENCRYPTION_KEYS = [NEW, OLD]
    with pytest.raises(CommandError, match=str(orphan.pk)):
        call_command("totp_rotate_keys", stdout=io.StringIO())
    readable.refresh_from_db()
    assert readable.encrypted_secret == before
    with pytest.raises(crypto.SecretDecryptionError):
        orphan.refresh_from_db()
        _ = orphan.secret
