"""Take over users' authenticator apps and backup codes from another 2FA package (R36)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from django_totp import imports
from django_totp.conf import conf
from django_totp.imports import service, sql

# The kinds of row that give a user a device here.
DEVICES = (imports.Kind.TOTP, imports.Kind.WEBAUTHN)
# allauth's own adapter, which stores secrets as they are.
DEFAULT_ALLAUTH_ADAPTER = "allauth.mfa.adapter.DefaultMFAAdapter"


class Command(BaseCommand):
    # It runs before the switch, while the site still uses the old package: the checks that
    # report django_totp's middleware and URLs as missing are right then, and must not stop it.
    # The TOTP_* settings it uses are checked in handle(), and fail closed when read (R34).
    requires_system_checks: list[str] = []
    help = (
        "Import authenticator apps, security keys and unused backup codes from another 2FA "
        "package's tables, so users keep them. Source rows are read, never changed; a second "
        "run imports nothing twice. Prints counts only, never a secret or code."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="source",
            required=True,
            choices=list(imports.sources()),
            help="The package: django-otp or two-factor (django-two-factor-auth), which read "
            "the same tables, security keys of django-otp-webauthn and of django-two-factor-auth's "
            "webauthn plugin included; allauth or django-mfa.",
        )
        parser.add_argument(
            "--rp-id",
            metavar="DOMAIN",
            help="The WebAuthn RP ID the old site registered security keys for, where the "
            "package kept no record of it (django-two-factor-auth without "
            "TWO_FACTOR_WEBAUTHN_RP_ID, which then took the host name of the site). Keys are "
            "imported only when it is TOTP_WEBAUTHN_RP_ID.",
        )
        parser.add_argument(
            "--decrypt",
            metavar="DOTTED.PATH",
            help="allauth: a function that decrypts the secrets its MFA adapter encrypted. "
            "Default: allauth's own adapter while allauth is installed, else none.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Decide and report, change nothing."
        )
        parser.add_argument("--user", help="Only this user (their username).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        invalid = conf.errors()
        if invalid:
            raise CommandError("\n".join(str(error) for error in invalid))
        source: str = options["source"]
        decrypt = self.decrypter(source, options["decrypt"])
        tables = imports.sources()[source].tables
        if not set(tables) & sql.tables():
            raise CommandError(
                f"None of {source}'s tables ({', '.join(tables)}) is in this database: they "
                "were never created here, or were dropped. Import before dropping them."
            )
        users = get_user_model()._default_manager
        only = None
        if options["user"] is not None:
            user = users.filter(**{users.model.USERNAME_FIELD: options["user"]}).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
            only = [user.pk]
        found = imports.read(source, only, decrypt=decrypt)
        # Users all of whose rows left the source since an earlier run: theirs are withdrawn.
        for user_id in service.imported_user_ids(source):
            if only is None or user_id in only:
                found.setdefault(user_id, imports.UserRows())
        owners = users.in_bulk(list(found))
        tally: Counter[tuple[str, str]] = Counter()
        imported_users = 0
        # Rows of a user deleted since have nobody to be imported for.
        for user_id, owner in sorted(owners.items(), key=lambda item: str(item[0])):
            decisions = service.import_user(
                owner,
                found[user_id],
                source=source,
                dry_run=options["dry_run"],
                declared_rp_id=options["rp_id"],
            )
            tally.update((d.kind.value, d.reason.value) for d in decisions)
            imported_users += any(
                d.kind in DEVICES and d.reason is imports.Reason.IMPORTED for d in decisions
            )
        report = {
            "source": source,
            "dry_run": options["dry_run"],
            "users": len(found),
            "users_imported": imported_users,
            "rows": [
                {"kind": kind, "reason": reason, "count": count}
                for (kind, reason), count in sorted(tally.items())
            ],
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.write_table(report)

    @staticmethod
    def decrypter(source: str, path: str | None) -> Callable[[str], str]:
        if path is not None:
            if source != "allauth":
                raise CommandError(f"--decrypt is for allauth; {source}'s secrets need none.")
            try:
                function: Callable[[str], str] = import_string(path)
            except ImportError as error:
                raise CommandError(f"--decrypt {path!r} does not import: {error}") from error
            return function
        if source != "allauth":
            return str
        if apps.is_installed("allauth.mfa"):
            # Through the site's MFA_ADAPTER, as allauth itself decrypts.
            return cast("Callable[[str], str]", import_string("allauth.mfa.utils.decrypt"))
        # SECURITY: an encrypted secret may still read as base32: imported undecrypted, it
        # would be a wrong key, and its owner refused every code.
        adapter = getattr(settings, "MFA_ADAPTER", DEFAULT_ALLAUTH_ADAPTER)
        if adapter != DEFAULT_ALLAUTH_ADAPTER:
            raise CommandError(
                f"MFA_ADAPTER is {adapter!r}, which may encrypt the secrets, and allauth.mfa is "
                "not installed to decrypt them: pass --decrypt with the path of a function "
                "that does what the adapter's decrypt() did."
            )
        return str

    def write_table(self, report: dict[str, Any]) -> None:
        verb = "would import" if report["dry_run"] else "imported"
        self.stdout.write(
            f"{report['source']}: {report['users']} users with rows; "
            f"{verb} devices for {report['users_imported']}."
        )
        for row in report["rows"]:
            self.stdout.write(f"  {row['kind']:<12} {row['reason']:<17} {row['count']:>6}")
        reasons = {row["reason"] for row in report["rows"]}
        if imports.Reason.RP_ID_UNKNOWN in reasons:
            self.stdout.write(
                "Security keys with rp_id_unknown: nothing records the RP ID they were made "
                "for; run again with --rp-id and the domain the old site's keys used."
            )
        if imports.Reason.RP_ID_CHANGED in reasons:
            self.stdout.write(
                "Security keys with rp_id_changed were made for another RP ID than "
                "TOTP_WEBAUTHN_RP_ID: they cannot sign in here. Set TOTP_WEBAUTHN_RP_ID to the "
                "one the old site used (its host name, if it named none) and run again."
            )
        if imports.Reason.WEBAUTHN_OFF in reasons:
            self.stdout.write(
                "Security keys with webauthn_off: switch TOTP_WEBAUTHN on, with the old site's "
                "RP ID as TOTP_WEBAUTHN_RP_ID, and run again."
            )
        if report["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
