"""Reset a user's two-factor authentication from the shell, e.g. for the only superuser."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from django_totp import services
from django_totp.models import TOTPDevice, WebAuthnCredential

from ._users import get_user


class Command(BaseCommand):
    help = (
        "Remove all of a user's devices (apps and security keys), as the admin's reset does: "
        "their sessions must sign in again, and they set up a new device at their next sign-in "
        "where 2FA is required."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        field = get_user_model().USERNAME_FIELD
        parser.add_argument("username", help=f"the user's {field}")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user(username)
        has_keys = WebAuthnCredential.objects.filter(user_id=user.pk).exists()
        if not has_keys and not TOTPDevice.objects.filter(user_id=user.pk).exists():
            self.stdout.write(f"{username} has no two-factor devices; nothing to reset.")
            return
        removed = services.reset_user(user, actor=None)
        self.stdout.write(
            self.style.SUCCESS(
                f"Two-factor authentication reset for {username}: {removed} device(s) removed. "
                "Their signed-in sessions must sign in again."
            )
        )
