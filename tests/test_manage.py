"""R5, R25 (and R22, R23 from the user's side): the 2FA management page and its actions."""

from __future__ import annotations

import time
from unittest import mock

import pytest
import time_machine
from django.test import Client

from django_totp import services
from django_totp.models import RecoveryCode, TOTPDevice

from .conftest import PASSWORD, make_device, owner_request

pytestmark = pytest.mark.django_db
MANAGE = "/2fa/manage/"
VERIFY = "/2fa/verify/"
SETUP = "/2fa/setup/"
CODES = "/2fa/manage/recovery-codes/"
FORGET = "/2fa/manage/browsers/forget/"


def rename(pk: int) -> str:
    return f"/2fa/manage/devices/{pk}/rename/"


def remove(pk: int) -> str:
    return f"/2fa/manage/devices/{pk}/remove/"


def stale(client: Client) -> None:
    """Make the session's verification older than TOTP_STEP_UP_SECONDS."""
    session = client.session
    session["_totp_verified"]["at"] = time.time() - 301
    session.save()


class TestPage:
    def test_lists_devices_codes_left_and_this_browser(
        self, verified_client, device, recovery_codes, settings
    ):
        settings.TOTP_REMEMBER_DAYS = 30
        TOTPDevice.objects.filter(pk=device.pk).update(name="Pixel 8")
        response = verified_client.get(MANAGE)
        html = response.content.decode()
        assert response.status_code == 200 and "no-store" in response["Cache-Control"]
        assert "Pixel 8" in html and "last used" in html
        assert "10 unused recovery codes" in html
        assert "This browser asks for a code" in html
        for path in (rename(device.pk), remove(device.pk), CODES, FORGET, "/2fa/disable/"):
            assert f'href="{path}"' in html
        assert device.secret not in html

    def test_the_remembered_browser_section_follows_the_setting(self, verified_client, device):
        assert "Remembered browsers" not in verified_client.get(MANAGE).content.decode()

    def test_a_password_only_session_is_sent_to_verify(self, password_client, device):
        response = password_client.get(MANAGE)
        assert response["Location"].startswith(VERIFY)

    def test_a_user_without_a_device_is_offered_setup(self, client, user):
        client.login(username=user.username, password=PASSWORD)
        html = client.get(MANAGE).content.decode()
        assert "Two-factor authentication is off" in html and f'href="{SETUP}"' in html

    def test_it_asks_only_for_the_login(self, client):
        assert client.get(MANAGE)["Location"].startswith("/login/")


ACTIONS = [
    ("rename", {"name": "Work phone"}),
    ("remove", {}),
    (CODES, {}),
    (FORGET, {}),
]


def action_path(action: str, device: TOTPDevice) -> str:
    return {"rename": rename, "remove": remove}.get(action, lambda _pk: action)(device.pk)


class TestStepUp:
    @pytest.mark.parametrize(("action", "data"), ACTIONS)
    def test_every_action_needs_a_recent_verification(
        self, verified_client, device, user, recovery_codes, action, data
    ):
        make_device(user, name="Second")
        stale(verified_client)
        path = action_path(action, device)
        response = verified_client.post(path, data)
        assert response.status_code == 302
        assert response["Location"] == f"{VERIFY}?next={path.replace('/', '%2F')}"
        assert TOTPDevice.objects.get(pk=device.pk).name == "Authenticator app"
        assert RecoveryCode.objects.unused().filter(user=user).count() == 10
        assert verified_client.get(MANAGE)["Location"].startswith(VERIFY)

    def test_a_fresh_code_opens_the_page_again_and_returns_to_it(
        self, verified_client, device, code_for
    ):
        stale(verified_client)
        response = verified_client.post(
            f"{VERIFY}?next=%2F2fa%2Fmanage%2F", {"code": code_for(device, offset=1)}
        )
        assert response["Location"] == MANAGE
        assert verified_client.get(MANAGE).status_code == 200

    def test_the_window_is_the_setting(self, verified_client, device, settings):
        settings.TOTP_STEP_UP_SECONDS = 1000
        stale(verified_client)
        assert verified_client.get(MANAGE).status_code == 200

    @pytest.mark.parametrize(("action", "data"), ACTIONS)
    def test_every_action_needs_a_csrf_token(self, user, device, recovery_codes, action, data):
        client = Client(enforce_csrf_checks=True)
        client.login(username=user.username, password=PASSWORD)
        session = client.session
        session["_totp_verified"] = {"device": device.pk, "user": str(user.pk), "at": time.time()}
        session.save()
        make_device(user, name="Second")
        assert client.post(action_path(action, device), data).status_code == 403
        assert TOTPDevice.objects.filter(user=user).count() == 2
        assert RecoveryCode.objects.unused().filter(user=user).count() == 10


class TestRename:
    def test_renames(self, verified_client, device):
        form = verified_client.get(rename(device.pk)).content.decode()
        assert 'value="Authenticator app"' in form
        response = verified_client.post(rename(device.pk), {"name": "  Work phone  "})
        assert response["Location"] == MANAGE
        device.refresh_from_db()
        assert device.name == "Work phone"

    @pytest.mark.parametrize("name", ["", "x" * 65, "tab\there", "bell\x07"])
    def test_refuses_odd_names_with_a_form_error(self, verified_client, device, name):
        response = verified_client.post(rename(device.pk), {"name": name})
        assert response.status_code == 200
        device.refresh_from_db()
        assert device.name == "Authenticator app"

    def test_unicode_names_are_fine(self, verified_client, device):
        verified_client.post(rename(device.pk), {"name": "Téléphone 📱"})
        device.refresh_from_db()
        assert device.name == "Téléphone 📱"

    def test_another_users_device_is_not_found(self, verified_client, django_user_model):
        bob = django_user_model.objects.create_user("bob", password=PASSWORD)
        other = make_device(bob)
        assert verified_client.get(rename(other.pk)).status_code == 404
        assert verified_client.post(rename(other.pk), {"name": "mine"}).status_code == 404
        other.refresh_from_db()
        assert other.name == "Authenticator app"


class TestRemove:
    def test_asks_for_confirmation_before_removing(self, verified_client, device, user):
        second = make_device(user, name="Old phone")
        page = verified_client.get(remove(second.pk))
        assert page.status_code == 200 and "Remove “Old phone”?" in page.content.decode()
        assert TOTPDevice.objects.filter(pk=second.pk).exists()
        response = verified_client.post(remove(second.pk))
        assert response["Location"] == MANAGE
        assert not TOTPDevice.objects.filter(pk=second.pk).exists()
        assert TOTPDevice.objects.filter(pk=device.pk).exists()

    def test_the_last_device_stays_where_2fa_is_required(
        self, verified_client, device, recovery_codes, settings
    ):
        settings.TOTP_REQUIRED_FOR = "everyone"
        page = verified_client.get(remove(device.pk)).content.decode()
        assert "cannot be removed" in page and f"{SETUP}?replace={device.pk}" in page
        response = verified_client.post(remove(device.pk))
        assert response.status_code == 403 and "replace it instead" in response.content.decode()
        assert TOTPDevice.objects.filter(pk=device.pk).exists()

    def test_removing_the_last_device_elsewhere_turns_2fa_off(
        self, verified_client, device, recovery_codes, user
    ):
        response = verified_client.post(remove(device.pk))
        assert response.cookies["totp_remember"]["max-age"] == 0
        assert not TOTPDevice.objects.filter(user=user).exists()
        assert not RecoveryCode.objects.filter(user=user).exists()
        shown = verified_client.get("/messages/").content.decode()
        assert "Two-factor authentication is off." in shown
        assert verified_client.get("/private/").status_code == 200

    def test_removing_the_device_this_session_used_keeps_this_session(
        self, verified_client, device, user, code_for
    ):
        second = make_device(user, name="New phone")
        verified_client.post(remove(device.pk))
        assert verified_client.get("/private/").status_code == 200
        assert verified_client.get(MANAGE).status_code == 200
        assert verified_client.session["_totp_verified"]["device"] == second.pk

    def test_other_sessions_verified_by_the_removed_device_are_signed_out(
        self, verified_client, device, user, code_for
    ):
        other = Client()
        other.login(username=user.username, password=PASSWORD)
        assert other.post(VERIFY, {"code": code_for(device, offset=1)}).status_code == 302
        second = make_device(user, name="New phone")
        session = verified_client.session
        session["_totp_verified"]["device"] = second.pk
        session.save()
        verified_client.post(remove(device.pk))
        assert other.get("/private/")["Location"].startswith("/login/")

    def test_another_users_device_is_not_found(self, verified_client, django_user_model):
        bob = django_user_model.objects.create_user("bob", password=PASSWORD)
        other = make_device(bob)
        assert verified_client.post(remove(other.pk)).status_code == 404
        assert TOTPDevice.objects.filter(pk=other.pk).exists()

    def test_the_services_refuse_a_device_that_is_not_the_users(self, user, django_user_model):
        bob = django_user_model.objects.create_user("bob", password=PASSWORD)
        other = make_device(bob)
        with pytest.raises(TOTPDevice.DoesNotExist):
            services.remove_device(owner_request(user), other.pk)
        with pytest.raises(TOTPDevice.DoesNotExist):
            services.rename_device(owner_request(user), other.pk, "mine")

    @pytest.mark.parametrize(("action", "data"), [("rename", {"name": "x"}), ("remove", {})])
    def test_a_device_removed_by_a_request_that_came_first_is_a_404(
        self, verified_client, device, user, action, data
    ):
        second = make_device(user)
        with mock.patch.object(services, f"{action}_device", side_effect=TOTPDevice.DoesNotExist):
            response = verified_client.post(action_path(action, second), data)
        assert response.status_code == 404


class TestReplace:
    def test_a_new_phone_replaces_the_old_one_in_one_step(
        self, verified_client, device, user, recovery_codes, code_for, settings
    ):
        settings.TOTP_REQUIRED_FOR = "everyone"
        start = verified_client.get(f"{SETUP}?replace={device.pk}").content.decode()
        assert "will replace “Authenticator app”" in start
        verified_client.post(f"{SETUP}?replace={device.pk}", {"start": "1", "replace": device.pk})
        pending = TOTPDevice.objects.get(user=user, confirmed=False)
        assert pending.replaces_id == device.pk
        assert TOTPDevice.objects.filter(pk=device.pk).exists()  # until the new one is proven
        response = verified_client.post(SETUP, {"code": code_for(pending)})
        assert response.status_code == 302
        assert list(TOTPDevice.objects.filter(user=user)) == [pending]
        assert verified_client.get("/private/").status_code == 200
        # The recovery codes the user saved still work.
        assert services.verify_recovery_code(user, recovery_codes[0]).accepted

    def test_replacing_needs_step_up(self, verified_client, device):
        stale(verified_client)
        response = verified_client.post(SETUP, {"start": "1", "replace": device.pk})
        assert response["Location"].startswith(VERIFY)
        assert not TOTPDevice.objects.filter(confirmed=False).exists()

    @pytest.mark.parametrize("value", ["abc", "٣", "-1", "99999", "1e3"])
    def test_an_odd_or_foreign_replace_id_starts_a_plain_setup(
        self, verified_client, device, user, value
    ):
        verified_client.post(SETUP, {"start": "1", "replace": value})
        assert TOTPDevice.objects.get(user=user, confirmed=False).replaces_id is None


class TestRecoveryCodes:
    def test_regenerating_shows_a_new_set_once_and_ends_the_old_one(
        self, verified_client, device, user, recovery_codes, settings
    ):
        settings.TOTP_THROTTLE_FACTOR = 0
        confirm = verified_client.get(CODES).content.decode()
        assert "10 unused recovery codes" in confirm and "stop working at once" in confirm
        response = verified_client.post(CODES)
        assert response.status_code == 200 and "no-store" in response["Cache-Control"]
        new_codes = response.context["codes"]
        assert len(new_codes) == 10 and not set(new_codes) & set(recovery_codes)
        assert not services.verify_recovery_code(user, recovery_codes[0]).accepted
        assert services.verify_recovery_code(user, new_codes[0]).accepted
        page = verified_client.get(MANAGE).content.decode()
        assert not any(code in page for code in new_codes)

    def test_a_user_without_a_device_gets_no_codes(self, client, user):
        client.login(username=user.username, password=PASSWORD)
        assert client.post(CODES)["Location"] == MANAGE
        assert not RecoveryCode.objects.filter(user=user).exists()


class TestForgetBrowsers:
    def test_forgetting_ends_every_remembered_browser_and_clears_this_one(
        self, user, device, code_for, settings
    ):
        settings.TOTP_REMEMBER_DAYS = 30
        laptop = Client()
        laptop.post("/login/", {"username": user.username, "password": PASSWORD})
        laptop.post(VERIFY, {"code": code_for(device), "remember": "on"})
        assert "does not ask for a code" in laptop.get(MANAGE).content.decode()
        response = laptop.post(FORGET)
        assert response["Location"] == MANAGE
        assert response.cookies["totp_remember"]["max-age"] == 0
        laptop.post("/logout/")
        laptop.post("/login/", {"username": user.username, "password": PASSWORD})
        assert laptop.get("/private/")["Location"].startswith(VERIFY)


def test_step_up_expires_by_the_clock(verified_client, device):
    with time_machine.travel(time.time() + 301):
        assert verified_client.get(MANAGE)["Location"].startswith(VERIFY)
