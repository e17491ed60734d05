"""Reset and unlock from Wagtail's user list (django_totp.contrib.wagtail), without Django's admin.

The Django admin's rules: the permission to delete (reset) or change (unlock) devices, only
superusers act on superusers, the staff member's own session verified with a recent code,
a confirmation page on GET and the change on POST with CSRF.
"""

from __future__ import annotations

import time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from wagtail.models import ModelLogEntry

from django_totp.models import TOTPDevice, WebAuthnCredential
from tests.conftest import PASSWORD, make_device

from .conftest import sign_in

pytestmark = pytest.mark.django_db


def reset_url(user) -> str:
    return f"/admin/two-factor/users/{user.pk}/reset/"


def unlock_url(user) -> str:
    return f"/admin/two-factor/users/{user.pk}/unlock/"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_user_list_offers_reset_and_unlock_to_those_who_may(
    manager_client, editor, editor_device
):
    editor_device.failure_count = 20
    editor_device.save()
    html = manager_client.get("/admin/users/").content.decode()
    assert f'href="{reset_url(editor)}"' in html and "Reset two-factor authentication" in html
    assert f'href="{unlock_url(editor)}"' in html and "Unlock (clear failed attempts)" in html


def test_unlock_is_offered_only_when_there_are_failures_and_reset_only_with_a_device(
    manager_client, editor, django_user_model
):
    make_device(editor)
    nobody = django_user_model.objects.create_user(username="no-app", password=PASSWORD)
    html = manager_client.get("/admin/users/").content.decode()
    assert reset_url(editor) in html and unlock_url(editor) not in html
    assert reset_url(nobody) not in html


def test_a_user_with_security_keys_only_is_offered_a_reset_that_takes_them(manager_client, editor):
    key = WebAuthnCredential(user=editor, name="Blue key", public_key=b"cose")
    key.set_credential_id(b"credential of the editor")
    key.save()
    assert reset_url(editor) in manager_client.get("/admin/users/").content.decode()
    response = manager_client.post(reset_url(editor), {"confirmed": "yes"}, follow=True)
    assert "Two-factor authentication was reset for 1 user." in messages_of(response)
    assert not WebAuthnCredential.objects.filter(user=editor).exists()


def test_a_get_shows_the_confirmation_and_changes_nothing(manager_client, editor, editor_device):
    response = manager_client.get(reset_url(editor))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Reset two-factor authentication?" in html and "Yes, reset" in html
    assert 'name="confirmed" value="yes"' in html and "csrfmiddlewaretoken" in html
    assert "wagtailadmin/base.html" in [t.name for t in response.templates]
    assert response["X-Frame-Options"] == "DENY"
    assert TOTPDevice.objects.filter(user=editor).exists()
    # A POST without the confirmation only asks again.
    assert manager_client.post(reset_url(editor)).status_code == 200
    assert TOTPDevice.objects.filter(user=editor).exists()


def test_a_confirmed_post_resets_records_the_actor_and_says_so(
    manager_client, manager, editor, editor_device
):
    response = manager_client.post(reset_url(editor), {"confirmed": "yes"}, follow=True)
    assert response.redirect_chain == [("/admin/users/", 302)]
    assert "Two-factor authentication was reset for 1 user." in messages_of(response)
    assert not TOTPDevice.objects.filter(user=editor).exists()
    entry = ModelLogEntry.objects.get(action="django_totp.reset")
    assert (entry.user_id, entry.object_id) == (manager.pk, str(editor.pk))
    assert entry.label and "Reset two-factor authentication" in str(entry.message)


def test_a_confirmed_post_unlocks(manager_client, manager, editor, editor_device):
    editor_device.failure_count = 20
    editor_device.save()
    response = manager_client.get(unlock_url(editor))
    assert response.status_code == 200 and "Yes, unlock" in response.content.decode()
    editor_device.refresh_from_db()
    assert editor_device.is_locked
    response = manager_client.post(unlock_url(editor), {"confirmed": "yes"}, follow=True)
    assert "1 device unlocked." in messages_of(response)
    editor_device.refresh_from_db()
    assert not editor_device.is_locked and editor_device.failure_count == 0
    entry = ModelLogEntry.objects.get(action="django_totp.unlock")
    assert entry.user_id == manager.pk


def test_nothing_to_do_is_said_not_confirmed(manager_client, editor, editor_device):
    response = manager_client.get(unlock_url(editor), follow=True)
    assert "No device of this user has failed attempts." in messages_of(response)
    editor_device.delete()
    response = manager_client.get(reset_url(editor), follow=True)
    assert "This user has no two-factor devices." in messages_of(response)


def test_the_post_needs_the_csrf_token(manager, editor, editor_device, code_for):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=manager.username, password=PASSWORD)
    page = client.get("/2fa/verify/")
    token = str(page.context["csrf_token"])
    device = manager.totp_devices.get()
    client.post("/2fa/verify/", {"code": code_for(device), "csrfmiddlewaretoken": token})
    assert client.post(reset_url(editor), {"confirmed": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(user=editor).exists()
    token = str(client.get(reset_url(editor)).context["csrf_token"])
    response = client.post(reset_url(editor), {"confirmed": "yes", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=editor).exists()


def test_an_editor_without_the_permission_is_refused(
    client, editor, editor_device, django_user_model, code_for
):
    other = django_user_model.objects.create_user(username="other", password=PASSWORD)
    make_device(other)
    sign_in(client, editor)
    client.post("/2fa/verify/", {"code": code_for(editor_device)})
    for url in (reset_url(other), unlock_url(other)):
        response = client.get(url)
        # Wagtail's answer to PermissionDenied in its admin: back to its home, with a message.
        assert response.status_code in (302, 403) and "Yes, " not in response.content.decode()
        response = client.post(url, {"confirmed": "yes"})
        assert response.status_code in (302, 403)
    assert TOTPDevice.objects.filter(user=other).exists()
    assert reset_url(other) not in client.get("/admin/").content.decode()


def test_only_superusers_reset_or_unlock_superusers(manager_client, django_user_model):
    boss = django_user_model.objects.create_superuser(username="boss", password=PASSWORD)
    make_device(boss, failure_count=20)
    for url in (reset_url(boss), unlock_url(boss)):
        assert manager_client.post(url, {"confirmed": "yes"}).status_code in (302, 403)
    assert TOTPDevice.objects.get(user=boss).failure_count == 20
    assert reset_url(boss) not in manager_client.get("/admin/users/").content.decode()


def test_the_managers_own_code_must_be_recent(client, manager, editor, editor_device, code_for):
    start = time.time()
    with time_machine.travel(start, tick=False) as clock:
        sign_in(client, manager)
        client.post("/2fa/verify/", {"code": code_for(manager.totp_devices.get())})
        clock.shift(3600)  # well past TOTP_STEP_UP_SECONDS
        response = client.post(reset_url(editor), {"confirmed": "yes"})
    assert response.status_code == 302
    assert response["Location"].startswith("/2fa/verify/?next=%2Fadmin%2Ftwo-factor%2F")
    assert TOTPDevice.objects.filter(user=editor).exists()


def test_a_session_not_verified_by_its_own_device_may_not_reset(
    client, django_user_model, editor, editor_device, settings
):
    # A superuser in the grace period of a roll-out reaches the admin without an app.
    settings.TOTP_ENROLMENT_GRACE_DAYS = 14
    boss = django_user_model.objects.create_superuser(username="boss", password=PASSWORD)
    sign_in(client, boss)
    assert client.get("/admin/users/").status_code == 200
    response = client.post(reset_url(editor), {"confirmed": "yes"}, follow=True)
    assert any("Set up and verify your own" in m for m in messages_of(response))
    assert TOTPDevice.objects.filter(user=editor).exists()


def test_an_unknown_user_is_a_404(manager_client):
    assert manager_client.get("/admin/two-factor/users/999999/reset/").status_code == 404
    assert manager_client.get("/admin/two-factor/users/x/unlock/").status_code == 404


def test_wagtails_group_editor_offers_the_reset_and_unlock_permissions(
    client, django_user_model, code_for
):
    # Sites without Django's admin give the permissions to a group in Wagtail's settings.
    from django.contrib.auth.models import Group, Permission

    boss = django_user_model.objects.create_superuser(username="boss", password=PASSWORD)
    device = make_device(boss)
    client.force_login(boss)
    client.post("/2fa/verify/", {"code": code_for(device)})
    group = Group.objects.create(name="Account managers")
    response = client.get(reverse("wagtailusers_groups:edit", args=[group.pk]))
    assert response.status_code == 200
    offered = set(response.context["form"].fields["permissions"].queryset)
    wanted = set(Permission.objects.filter(codename__in=["delete_totpdevice", "change_totpdevice"]))
    assert wanted <= offered
    assert Permission.objects.get(codename="add_totpdevice") not in offered
