"""Switching from django-otp: devices and backup codes made with django-otp's own API (R36)."""

from __future__ import annotations

import json
import subprocess
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice as OTPDevice

from django_totp import services
from django_totp.models import ImportedRow, RecoveryCode, TOTPDevice
from django_totp.services import Outcome

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db


def oathtool(hex_key: str, *, digits: int = 6, step: int = 30, at: float | None = None) -> str:
    """The current code, computed by an implementation that is not ours nor django-otp's."""
    moment = time.time() if at is None else at
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))
    command = ["oathtool", "--totp", f"--digits={digits}", f"--time-step-size={step}s"]
    command += [f"--now={stamp}", hex_key]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def run(*args: str) -> dict:
    """The command's JSON report; ``--from django-otp`` unless ``args`` name a source."""
    source = [] if "--from" in args else ["--from", "django-otp"]
    out = StringIO()
    call_command("totp_import", *source, "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def counts(report: dict) -> dict[tuple[str, str], int]:
    return {(row["kind"], row["reason"]): row["count"] for row in report["rows"]}


def backup_codes(user, count: int = 3) -> list[str]:
    device = StaticDevice.objects.create(user=user, name="backup")
    tokens = [StaticToken.random_token() for _ in range(count)]
    for token in tokens:
        device.token_set.create(token=token)
    return tokens


def sign_in(user) -> Client:
    client = Client()
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


def test_a_user_signs_in_with_the_same_app_and_each_backup_code_once(user, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    old = OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    tokens = backup_codes(user)
    report = run()
    assert counts(report) == {("backup_code", "imported"): 3, ("totp", "imported"): 1}
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed and device.name == "Phone" and device.digits == 6
    client = sign_in(user)
    response = client.post("/2fa/verify/", {"code": oathtool(old.key)})
    assert response.status_code == 302 and client.get("/private/").status_code == 200
    for token in tokens:
        assert services.verify_recovery_code(user, token.upper()).accepted
        assert services.verify_recovery_code(user, token).outcome is Outcome.INVALID


def test_the_code_used_last_before_the_switch_is_a_replay(user):
    old = OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    code = oathtool(old.key)
    assert old.verify_token(code)  # django-otp records last_t
    run()
    assert services.verify_code(user, code).outcome is Outcome.REPLAYED


def test_two_apps_become_two_devices_and_unimportable_rows_get_a_reason(user, staff_user):
    for name in ("Phone", "Tablet"):
        OTPDevice.objects.create(user=user, name=name, confirmed=True)
    OTPDevice.objects.create(user=staff_user, name="never confirmed", confirmed=False)
    OTPDevice.objects.create(user=staff_user, name="epoch", confirmed=True, t0=1000)
    OTPDevice.objects.create(user=staff_user, name="drifted", confirmed=True, drift=3)
    OTPDevice.objects.create(user=staff_user, name="short", confirmed=True, key="00" * 10)
    report = run()
    assert counts(report) == {
        ("totp", "imported"): 2,
        ("totp", "unconfirmed"): 1,
        ("totp", "t0"): 1,
        ("totp", "clock_drift"): 1,
        ("totp", "weak_key"): 1,
    }
    assert report["users"] == 2 and report["users_imported"] == 1
    assert sorted(TOTPDevice.objects.values_list("name", flat=True)) == ["Phone", "Tablet"]


def test_backup_codes_of_a_user_with_no_importable_app_are_not_imported(user):
    OTPDevice.objects.create(user=user, name="drifted", confirmed=True, drift=-2)
    backup_codes(user)
    assert counts(run()) == {("backup_code", "no_device"): 3, ("totp", "clock_drift"): 1}
    assert not RecoveryCode.objects.exists()


def test_a_dry_run_changes_nothing_and_reports_what_a_run_does(user):
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    backup_codes(user)
    dry = run("--dry-run")
    assert not TOTPDevice.objects.exists() and not ImportedRow.objects.exists()
    assert not RecoveryCode.objects.exists()
    real = run()
    assert dry["rows"] == real["rows"] and dry["dry_run"] and not real["dry_run"]


def test_a_second_run_imports_nothing_twice(user):
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    backup_codes(user)
    run()
    again = run()
    assert counts(again) == {
        ("backup_code", "already_imported"): 3,
        ("totp", "already_imported"): 1,
    }
    assert TOTPDevice.objects.count() == 1 and RecoveryCode.objects.count() == 3


def test_a_device_removed_here_is_not_brought_back_by_a_later_run(user, staff_user):
    """A lost phone: staff reset the user after the switch; the old row is still there."""
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    run()
    services.reset_user(user, actor=staff_user)
    assert counts(run()) == {("totp", "already_imported"): 1}
    assert not TOTPDevice.objects.exists()


def test_a_user_reset_by_staff_here_before_any_import_is_not_imported(user, staff_user, device):
    services.reset_user(user, actor=staff_user)
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    assert counts(run()) == {("totp", "reset_here"): 1}


def test_a_user_who_enrolled_here_keeps_only_their_own_devices(user, device):
    OTPDevice.objects.create(user=user, name="old phone", confirmed=True)
    backup_codes(user, 2)
    assert counts(run()) == {
        ("backup_code", "already_enrolled"): 2,
        ("totp", "already_enrolled"): 1,
    }
    assert list(TOTPDevice.objects.filter(user=user)) == [device]


def test_a_new_app_added_in_the_old_package_after_a_first_run_is_imported(user):
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    run()
    OTPDevice.objects.create(user=user, name="Tablet", confirmed=True)
    assert counts(run()) == {("totp", "already_imported"): 1, ("totp", "imported"): 1}


def test_eight_digit_and_sixty_second_devices_keep_their_shape(user):
    old = OTPDevice.objects.create(user=user, name="Token", confirmed=True, digits=8, step=60)
    run()
    code = oathtool(old.key, digits=8, step=60)
    assert services.verify_code(user, code).accepted


def test_nothing_secret_is_printed(user, capsys):
    old = OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    tokens = backup_codes(user)
    out = StringIO()
    call_command("totp_import", "--from", "django-otp", stdout=out)
    text = out.getvalue()
    assert "imported" in text
    for secret in [old.key, *tokens, TOTPDevice.objects.get().secret]:
        assert secret not in text


def test_only_the_named_user(user, staff_user):
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    OTPDevice.objects.create(user=staff_user, name="Phone", confirmed=True)
    report = run("--user", staff_user.get_username())
    assert report["users"] == 1
    assert list(TOTPDevice.objects.values_list("user_id", flat=True)) == [staff_user.pk]


def test_it_still_works_from_the_tables_once_django_otp_is_uninstalled(user, settings):
    old = OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if not app.startswith("django_otp")
    ]
    assert counts(run()) == {("totp", "imported"): 1}
    assert services.verify_code(user, oathtool(old.key)).accepted


def test_the_settings_page_asks_for_a_new_set_until_one_is_made(user):
    old = OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    backup_codes(user)
    run()
    client = sign_in(user)
    client.post("/2fa/verify/", {"code": oathtool(old.key)})
    assert "make a new set now" in client.get("/2fa/manage/").content.decode()
    client.post("/2fa/manage/recovery-codes/")
    assert RecoveryCode.objects.filter(user=user, scheme="verbatim").count() == 0
    assert "make a new set now" not in client.get("/2fa/manage/").content.decode()


def test_each_imported_user_gets_one_log_record_of_counts(user, caplog):
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    backup_codes(user, 2)
    with caplog.at_level("INFO", logger="django_totp"):
        run("--dry-run")
        run()
    records = [r.totp for r in caplog.records if hasattr(r, "totp")]
    assert [(r["event"], r["source"], r["devices"], r["codes"]) for r in records] == [
        ("imported", "django-otp", 1, 2)
    ]


def test_an_app_removed_at_the_old_site_after_a_first_run_is_removed_here_too(user):
    """Both sites in use between the first run and the switch: a lost phone removed there."""
    old = OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    run()
    client = sign_in(user)
    client.post("/2fa/verify/", {"code": oathtool(old.key)})
    assert client.get("/private/").status_code == 200
    old.delete()
    assert counts(run()) == {("totp", "removed_at_source"): 1}
    assert not TOTPDevice.objects.exists()
    # The sessions the device verified end with it.
    assert client.get("/private/").status_code == 302
    assert counts(run()) == {}


def test_a_backup_code_used_at_the_old_site_after_a_first_run_is_used_here_too(user, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    tokens = backup_codes(user)
    run()
    StaticToken.objects.filter(token=tokens[0]).delete()  # what django-otp does on use
    report = counts(run("--dry-run"))
    assert report[("backup_code", "used_at_source")] == 1
    assert RecoveryCode.objects.unused().count() == 3  # a dry run changes nothing
    run()
    assert not services.verify_recovery_code(user, tokens[0]).accepted
    assert services.verify_recovery_code(user, tokens[1]).accepted
