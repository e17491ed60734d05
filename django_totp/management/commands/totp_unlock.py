"""Clear the failed attempts of a user's devices from the shell."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from django_totp import services
from django_totp.models import TOTPDevice

from ._users import get_user


class Command(BaseCommand):
    help = (
        "Clear the failed attempts of a user's TOTP devices, as the admin's unlock does, so "
        "that a device locked after TOTP_MAX_FAILURES accepts codes again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        field = get_user_model().USERNAME_FIELD
        parser.add_argument("username", help=f"the user's {field}")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user(username)
        devices = list(TOTPDevice.objects.filter(user_id=user.pk).with_failures())
        if not devices:
            self.stdout.write(f"No device of {username} has failed attempts; nothing to unlock.")
            return
        for device in devices:
            was_locked = device.is_locked
            services.unlock_device(device, actor=None)
            state = "was locked" if was_locked else "was not locked"
            self.stdout.write(f"Unlocked {device.name!r} (id {device.pk}, {state}).")
        self.stdout.write(
            self.style.SUCCESS(f"Cleared the failed attempts of {len(devices)} device(s).")
        )
