"""Re-encrypt every stored secret under the newest key (R7)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from django_totp import crypto
from django_totp.models import TOTPDevice


class Command(BaseCommand):
    help = (
        "Re-encrypt all TOTP secrets under the newest key (the first of TOTP_ENCRYPTION_KEYS, "
        "or SECRET_KEY). Run after adding a key; then the old key can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        failed = []
        with transaction.atomic():
            for device in TOTPDevice.objects.select_for_update().only("pk", "encrypted_secret"):
                try:
                    device.encrypted_secret = crypto.reencrypt(device.encrypted_secret)
                except crypto.SecretDecryptionError:
                    failed.append(device.pk)
                    continue
                device.save(update_fields=["encrypted_secret"])
                rotated += 1
            if failed:
                transaction.set_rollback(True)
        if failed:
            raise CommandError(
                f"No configured key decrypts the secrets of devices {failed}; nothing was "
                "changed. Add the old key back to TOTP_ENCRYPTION_KEYS or SECRET_KEY_FALLBACKS."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {rotated} secret(s) under the newest key.")
        )
