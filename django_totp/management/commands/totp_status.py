"""How many users have two-factor authentication, and which devices need attention."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from django_totp.models import TOTPDevice, WebAuthnCredential, locked_condition
from django_totp.reports import rollout

LABELS = {
    "users": "Users",
    "enrolled_users": "Users with 2FA",
    "security_keys": "Security keys",
    "confirmed_devices": "Confirmed devices",
    "pending_devices": "Unfinished setups",
    "locked_devices": "Locked devices",
    "unused_devices": "Devices unused for {days}+ days",
}


def status(unused_days: int) -> dict[str, int]:
    """The counts, in two queries whatever the number of users and devices."""
    cutoff = timezone.now() - datetime.timedelta(days=unused_days)
    # A confirmed device is used at least once, at confirmation; older rows may lack the time.
    unused = Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff)
    confirmed = Q(confirmed=True)
    counts = TOTPDevice.objects.aggregate(
        confirmed_devices=Count("pk", filter=confirmed),
        pending_devices=Count("pk", filter=~confirmed),
        locked_devices=Count("pk", filter=confirmed & locked_condition()),
        unused_devices=Count("pk", filter=confirmed & unused),
    )
    # Users with an app or a security key, and the keys, in the second query.
    has_app = Exists(TOTPDevice.objects.confirmed().filter(user_id=OuterRef("pk")))
    has_key = Exists(WebAuthnCredential.objects.filter(user_id=OuterRef("pk")))
    users = get_user_model()._default_manager.aggregate(
        users=Count("pk", distinct=True),
        enrolled_users=Count("pk", filter=Q(has_app) | Q(has_key), distinct=True),
        security_keys=Count("webauthn_credentials", distinct=True),
    )
    return {**users, **counts}


class Command(BaseCommand):
    help = (
        "Count users, users with 2FA (an app or a security key), security keys, and confirmed, "
        "locked and long-unused TOTP devices."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--unused-days",
            type=int,
            default=90,
            metavar="N",
            help="count confirmed devices not used for N days (default 90)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--rollout",
            action="store_true",
            help="also list the users the policy covers who have not enrolled, and count them "
            "by group",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        unused_days = options["unused_days"]
        if unused_days < 0:
            raise CommandError("--unused-days must be 0 or more.")
        counts = status(unused_days)
        report = rollout().as_json() if options["rollout"] else None
        if options["json"]:
            found: dict[str, Any] = {**counts, "unused_days": unused_days}
            if report is not None:
                found["rollout"] = report
            self.stdout.write(json.dumps(found, sort_keys=True))
            return
        width = max(len(label.format(days=unused_days)) for label in LABELS.values())
        for key, label in LABELS.items():
            self.stdout.write(f"{label.format(days=unused_days) + ':':<{width + 1}} {counts[key]}")
        if report is not None:
            missing = report["covered_not_enrolled"]
            self.stdout.write(f"Covered by the policy, not enrolled: {missing}")
            groups = ", ".join(f"{group} {count}" for group, count in report["by_group"].items())
            self.stdout.write(f"  by group: {groups or '-'}")
            self.stdout.write(f"  users: {', '.join(report['usernames']) or '-'}")
