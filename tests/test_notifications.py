"""E-mail notices: who gets which, only after commit, never a secret, never an error page."""

from __future__ import annotations

import logging
import smtplib

import django
import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.test import Client, RequestFactory

from django_totp import services, signals
from django_totp.models import TOTPDevice

from .conftest import PASSWORD, make_device, owner_request

pytestmark = pytest.mark.django_db


class BrokenBackend(BaseEmailBackend):
    """A mail server that refuses every message."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the code under test scheduled with ``transaction.on_commit``."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def use_broken_mail_server(settings) -> None:
    # Django 6.1 configures mail through MAILERS; EMAIL_BACKEND is deprecated there.
    if django.VERSION >= (6, 1):
        settings.MAILERS = {"default": {"BACKEND": f"{__name__}.BrokenBackend"}}
    else:
        settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"


def only_message() -> mail.EmailMessage:
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    return mail.outbox[0]


def test_a_staff_reset_tells_the_user(user, device, staff_user, committed):
    with committed():
        services.reset_user(user, actor=staff_user)
    message = only_message()
    assert message.to == ["alice@example.com"]
    assert message.subject == "Test Site: Your two-factor authentication was reset"
    assert "Hello alice," in message.body
    assert "An administrator reset two-factor authentication" in message.body
    assert device.secret not in message.body


def test_a_reset_from_the_command_line_is_a_staff_reset_too(user, device, committed):
    with committed():
        services.reset_user(user, actor=None)
    assert "was reset" in only_message().subject


def test_turning_2fa_off_yourself_is_a_different_notice(user, device, committed):
    with committed():
        services.disable(owner_request(user))
    message = only_message()
    assert message.subject == "Test Site: Two-factor authentication was turned off"
    assert "your password alone signs you in" in message.body


def test_a_reset_that_removed_nothing_sends_nothing(user, staff_user, committed):
    with committed():
        services.reset_user(user, actor=staff_user)
    assert mail.outbox == []


def test_a_new_device_is_announced_without_its_secret_or_code(user, code_for, committed):
    pending = services.start_setup(owner_request(user))
    pending.name = "Work phone"
    pending.save()
    code = code_for(pending)
    request = RequestFactory().post("/2fa/setup/", REMOTE_ADDR="203.0.113.9")
    with committed():
        assert services.confirm_device(pending, code, request=request).accepted
    message = only_message()
    assert message.subject == "Test Site: An authenticator app was added to your account"
    assert '"Work phone" was added' in message.body
    assert "From IP address: 203.0.113.9" in message.body
    text = message.subject + message.body
    assert pending.secret not in text and code not in text


def test_a_removed_device_is_announced(user, device, committed):
    with committed():
        signals.device_removed.send(TOTPDevice, user=user, device=device, actor=user, request=None)
    message = only_message()
    assert message.subject == "Test Site: An authenticator app was removed from your account"
    assert '"Authenticator app" was removed' in message.body
    assert "From IP address" not in message.body


def test_removing_and_replacing_from_the_settings_page_are_announced(
    user, device, committed, code_for
):
    spare = make_device(user, name="Spare phone")
    with committed():
        assert services.remove_device(owner_request(user), spare.pk)
    assert '"Spare phone" was removed' in only_message().body
    mail.outbox.clear()
    pending = services.start_setup(owner_request(user), replaces=device.pk)
    with committed():
        assert services.confirm_device(pending, code_for(pending)).accepted
    bodies = " ".join(message.body for message in mail.outbox)
    assert '"Authenticator app" was removed' in bodies and len(mail.outbox) == 2


def test_a_lock_tells_the_user_where_the_guesses_came_from(user, device, settings, committed):
    settings.TOTP_THROTTLE_FACTOR = 0
    settings.TOTP_MAX_FAILURES = 2
    request = RequestFactory().post("/2fa/verify/", REMOTE_ADDR="198.51.100.4")
    with committed():
        services.verify_code(user, "000000", request=request)
        services.verify_code(user, "000000", request=request)
        services.verify_code(user, "000000", request=request)  # already locked: no new notice
    message = only_message()
    assert message.subject == (
        "Test Site: Your authenticator app is locked after too many wrong codes"
    )
    assert "From IP address: 198.51.100.4" in message.body
    assert "000000" not in message.body


@pytest.mark.parametrize(
    ("remaining", "wording"),
    [(1, "You have 1 unused recovery code left."), (4, "You have 4 unused recovery codes left.")],
)
def test_a_used_recovery_code_is_announced(user, committed, remaining, wording):
    with committed():
        signals.recovery_code_used.send(TOTPDevice, user=user, request=None, remaining=remaining)
    message = only_message()
    assert message.subject == "Test Site: A recovery code was used to sign in"
    assert wording in " ".join(message.body.split())


def test_a_remembered_browser_sends_no_notice(user, committed):
    with committed():
        signals.remembered_browser_used.send(TOTPDevice, user=user, request=None)
    assert mail.outbox == []


def test_a_forged_host_header_never_reaches_an_email(user, device, staff_user, settings, committed):
    settings.TOTP_ISSUER = ""
    settings.ALLOWED_HOSTS = ["*"]
    request = RequestFactory().post("/admin/", HTTP_HOST="account-security.evil.example")
    with committed():
        services.reset_user(user, actor=staff_user, request=request)
    message = only_message()
    assert "evil" not in message.subject + message.body
    assert message.subject == "Your two-factor authentication was reset"


def test_the_subject_falls_back_to_the_first_fixed_allowed_host(
    user, device, staff_user, settings, committed
):
    settings.TOTP_ISSUER = ""
    settings.ALLOWED_HOSTS = ["*", ".example.com", "www.example.org"]
    request = RequestFactory().post("/admin/", HTTP_HOST="evil.example")
    with committed():
        services.reset_user(user, actor=staff_user, request=request)
    assert only_message().subject == "example.com: Your two-factor authentication was reset"


def test_notices_can_be_turned_off(user, device, staff_user, settings, committed):
    settings.TOTP_NOTIFY_BY_EMAIL = False
    with committed() as callbacks:
        services.reset_user(user, actor=staff_user)
    assert callbacks == [] and mail.outbox == []


def test_users_without_an_address_are_skipped(user, device, staff_user, committed):
    user.email = ""
    user.save()
    with committed() as callbacks:
        services.reset_user(user, actor=staff_user)
    assert callbacks == [] and mail.outbox == []


def test_nothing_is_sent_when_the_change_is_rolled_back(user, device, staff_user, committed):
    class Undo(Exception):
        pass

    with committed() as callbacks:
        with pytest.raises(Undo), transaction.atomic():
            services.reset_user(user, actor=staff_user)
            raise Undo
    assert callbacks == [] and mail.outbox == []
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_nothing_is_sent_before_the_commit(user, device, staff_user, committed):
    with committed():
        services.reset_user(user, actor=staff_user)
        assert mail.outbox == []
    assert len(mail.outbox) == 1


def test_a_failing_mail_server_is_logged_and_dropped(
    user, device, staff_user, settings, committed, caplog
):
    use_broken_mail_server(settings)
    with caplog.at_level(logging.INFO, logger="django_totp"), committed():
        services.reset_user(user, actor=staff_user)
    (failure,) = [r for r in caplog.records if r.totp["event"] == "notice_failed"]
    assert failure.levelno == logging.ERROR and failure.exc_info is not None
    assert failure.totp["notice"] == "reset" and failure.totp["user_id"] == user.pk
    assert "alice@example.com" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_failing_mail_server_never_breaks_the_request(user, code_for, settings, caplog):
    # Real commits: the notice is sent during the request, right after the change commits.
    use_broken_mail_server(settings)
    device = make_device(user)
    client = Client()
    client.login(username=user.username, password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code_for(device)}).status_code == 302
    with caplog.at_level(logging.ERROR, logger="django_totp"):
        response = client.post("/2fa/disable/")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert [r.totp["notice"] for r in caplog.records] == ["disabled"]


def test_templates_can_be_overridden(user, device, staff_user, settings, tmp_path, committed):
    folder = tmp_path / "django_totp" / "email"
    folder.mkdir(parents=True)
    (folder / "reset_subject.txt").write_text("Security notice\nfor {{ user.get_username }}\n")
    (folder / "reset_message.txt").write_text("Your 2FA was reset by our helpdesk.\n")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    with committed():
        services.reset_user(user, actor=staff_user)
    message = only_message()
    assert message.subject == "Security notice for alice"  # line breaks never reach the header
    assert message.body == "Your 2FA was reset by our helpdesk.\n"


def test_an_unlock_tells_the_user_that_guessing_can_start_again(
    user, device, staff_user, committed
):
    device.failure_count = 20
    device.save()
    request = RequestFactory().post("/admin/", REMOTE_ADDR="192.0.2.7")
    with committed():
        services.unlock_device(device, actor=staff_user, request=request)
    message = only_message()
    assert message.subject == "Test Site: Your authenticator app was unlocked"
    assert '"Authenticator app" was unlocked' in " ".join(message.body.split())
    assert "From IP address: 192.0.2.7" in message.body
    assert device.secret not in message.body


def test_the_user_hears_of_repeated_wrong_codes_once_per_streak(user, device, settings, committed):
    settings.TOTP_THROTTLE_FACTOR = 0
    request = RequestFactory().post("/2fa/verify/", REMOTE_ADDR="198.51.100.4")
    with committed():
        for _ in range(4):
            services.verify_code(user, "000000", request=request)
    assert mail.outbox == []
    with committed():
        for _ in range(6):  # the fifth failure, then more in the same streak
            services.verify_code(user, "000000", request=request)
    message = only_message()
    assert message.subject == "Test Site: Wrong codes were typed for your authenticator app"
    body = " ".join(message.body.split())
    assert (
        '5 wrong codes in a row were typed for your authenticator app "Authenticator app"' in body
    )
    assert "From IP address: 198.51.100.4" in message.body and "000000" not in message.body


def test_a_new_streak_after_a_success_is_reported_again(
    user, device, settings, code_for, committed
):
    settings.TOTP_THROTTLE_FACTOR = 0
    settings.TOTP_NOTIFY_FAILURES_AFTER = 2
    with committed():
        for _ in range(2):
            services.verify_code(user, "000000")
        assert services.verify_code(user, code_for(device)).accepted
        for _ in range(2):
            services.verify_code(user, "000000")
    assert [m.subject for m in mail.outbox] == [
        "Test Site: Wrong codes were typed for your authenticator app"
    ] * 2


def test_a_threshold_at_the_lock_sends_only_the_lock_notice(user, device, settings, committed):
    settings.TOTP_THROTTLE_FACTOR = 0
    settings.TOTP_MAX_FAILURES = 3
    settings.TOTP_NOTIFY_FAILURES_AFTER = 3
    with committed():
        for _ in range(3):
            services.verify_code(user, "000000")
    assert "locked" in only_message().subject


def test_new_recovery_codes_are_announced_without_the_codes(user, device, committed, receive):
    made = receive(signals.recovery_codes_regenerated)
    request = owner_request(user)
    request.META["REMOTE_ADDR"] = "203.0.113.5"
    with committed():
        codes = services.regenerate_recovery_codes(request)
    assert made == [
        {"signal": signals.recovery_codes_regenerated, "user": user, "request": request}
    ]
    message = only_message()
    assert message.subject == "Test Site: New recovery codes were made for your account"
    assert "the codes you had before no longer work" in " ".join(message.body.split())
    assert "From IP address: 203.0.113.5" in message.body
    assert not any(code in message.body for code in codes)
