"""Who must enrol beyond TOTP_REQUIRED_FOR: by permission, by group, by a function (R26).

The gap a real site showed: Wagtail grants its admin through a permission held via groups, so
its editors (not ``is_staff``) reached the whole admin with a password alone under "staff".
"""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from django_totp import checks, policy, services
from django_totp.models import TOTPDevice

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db
SETUP = "/2fa/setup/?next=%2Fprivate%2F"


@pytest.fixture
def editor(django_user_model):
    """A Wagtail-style editor: no is_staff, the admin permission through a group."""
    user = django_user_model.objects.create_user(username="editor1", password=PASSWORD)
    group = Group.objects.create(name="Editors")
    group.permissions.add(Permission.objects.get(codename="view_user"))
    user.groups.add(group)
    return user


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


def test_under_staff_alone_an_editor_by_permission_is_not_covered(editor, settings):
    settings.TOTP_REQUIRED_FOR = "staff"
    assert signed_in(editor).get("/private/").status_code == 200  # the gap, as configured


def test_a_permission_holder_must_enrol(editor, settings):
    settings.TOTP_REQUIRED_FOR = "staff"
    settings.TOTP_REQUIRED_PERMISSIONS = ["auth.view_user"]
    assert signed_in(editor).get("/private/")["Location"] == SETUP
    assert policy.enrolment_required(editor)


def test_a_group_member_must_enrol(editor, django_user_model, settings):
    settings.TOTP_REQUIRED_GROUPS = ["Editors"]
    assert signed_in(editor).get("/private/")["Location"] == SETUP
    other = django_user_model.objects.create_user(username="reader", password=PASSWORD)
    assert signed_in(other).get("/private/").status_code == 200


def test_a_function_names_more_users(editor, django_user_model, settings):
    settings.TOTP_REQUIRED_CALLABLE = "tests.policies.named_editor"
    assert signed_in(editor).get("/private/")["Location"] == SETUP
    other = django_user_model.objects.create_user(username="reader", password=PASSWORD)
    assert not policy.enrolment_required(other)


def test_superusers_hold_every_permission(django_user_model, settings):
    settings.TOTP_REQUIRED_PERMISSIONS = ["auth.view_user"]
    boss = django_user_model.objects.create_user(
        username="boss", password=PASSWORD, is_superuser=True
    )
    assert policy.enrolment_required(boss)


@pytest.mark.parametrize("path", ["tests.policies.missing", "tests.policies.NOT_A_FUNCTION"])
def test_a_broken_function_path_fails_closed_and_the_check_says_so(editor, settings, path):
    policy.required_by_callable.cache_clear()
    settings.TOTP_REQUIRED_CALLABLE = path
    with pytest.raises(ImproperlyConfigured, match="TOTP_REQUIRED_CALLABLE"):
        signed_in(editor).get("/private/")
    assert [m.id for m in checks.check_policy()] == ["django_totp.E026"]


def test_a_permission_of_no_installed_app_is_a_warning(settings):
    settings.TOTP_REQUIRED_PERMISSIONS = ["wagtailadmin.access_admin", "auth.view_user"]
    found = checks.check_policy()
    assert [m.id for m in found] == ["django_totp.W010"]
    assert "wagtailadmin" in found[0].msg


def test_the_rollout_report_lists_who_is_covered_and_not_enrolled(
    editor, django_user_model, settings
):
    settings.TOTP_REQUIRED_FOR = "staff"
    settings.TOTP_REQUIRED_PERMISSIONS = ["auth.view_user"]
    django_user_model.objects.create_user(username="admin1", is_staff=True)
    enrolled = django_user_model.objects.create_user(username="admin2", is_staff=True)
    make_device(enrolled)
    django_user_model.objects.create_user(username="reader")  # not covered
    out = StringIO()
    call_command("totp_status", "--json", "--rollout", stdout=out)
    assert json.loads(out.getvalue())["rollout"] == {
        "covered_not_enrolled": 2,
        "by_group": {"(no group)": 1, "Editors": 1},
        "usernames": ["editor1", "admin1"],
    }
    out = StringIO()
    call_command("totp_status", "--rollout", stdout=out)
    text = out.getvalue()
    assert "Covered by the policy, not enrolled: 2" in text
    assert "by group: (no group) 1, Editors 1" in text and "users: editor1, admin1" in text


# -- the grace period for rolling 2FA out (TOTP_ENROLMENT_GRACE_DAYS) --


@pytest.fixture
def grace(settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    settings.TOTP_ENROLMENT_GRACE_DAYS = 14


def test_without_a_grace_period_a_covered_user_must_enrol_at_once(user, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    assert signed_in(user).get("/private/")["Location"] == SETUP


def test_in_the_grace_period_a_covered_user_is_reminded_once_then_required(user, grace):
    start = time.time()
    with time_machine.travel(start, tick=False) as clock:
        client = signed_in(user)
        assert client.get("/private/").status_code == 200
        assert (
            "set up two-factor authentication before" in client.get("/messages/").content.decode()
        )
        assert client.get("/private/").status_code == 200
        assert client.get("/messages/").content == b""  # once a session
        clock.shift(14 * 86400 - 60)
        assert client.get("/private/").status_code == 200
        clock.shift(120)
        assert signed_in(user).get("/private/")["Location"] == SETUP


def test_the_grace_period_is_given_once_never_again_after_a_reset(user, grace, code_for):
    client = signed_in(user)
    assert client.get("/private/").status_code == 200
    client.post("/2fa/setup/", {"start": "1"})
    device = TOTPDevice.objects.get(pk=client.session["_totp_setup"])
    assert client.post("/2fa/setup/", {"code": code_for(device)}).status_code == 200
    services.reset_user(user)
    # SECURITY: well inside the 14 days, yet a password alone no longer reaches the site.
    assert signed_in(user).get("/private/")["Location"] == SETUP


def test_the_grace_period_counts_from_when_the_policy_first_required_a_device(
    user, django_user_model, settings
):
    settings.TOTP_ENROLMENT_GRACE_DAYS = 14
    start = time.time()
    with time_machine.travel(start, tick=False) as clock:
        assert signed_in(user).get("/private/").status_code == 200  # not covered yet
        clock.shift(30 * 86400)
        settings.TOTP_REQUIRED_FOR = "everyone"  # the site turns 2FA on for everyone
        assert signed_in(user).get("/private/").status_code == 200  # the 14 days start now
        clock.shift(15 * 86400)
        assert signed_in(user).get("/private/")["Location"] == SETUP


def grant(user, codename: str):
    user.user_permissions.add(Permission.objects.get(codename=codename))
    return type(user).objects.get(pk=user.pk)  # a fresh object: no cached permissions


def test_staff_screens_reset_with_the_admins_delete_permission_and_unlock_with_change(
    user, django_user_model
):
    editor = django_user_model.objects.create_user(username="ed", password=PASSWORD)
    assert not policy.may_reset(editor, user) and not policy.may_unlock(editor, user)
    editor = grant(editor, "delete_totpdevice")
    assert policy.may_reset(editor, user) and not policy.may_unlock(editor, user)
    editor = grant(editor, "change_totpdevice")
    assert policy.may_unlock(editor, user)


def test_staff_screens_leave_superusers_to_superusers(django_user_model):
    editor = django_user_model.objects.create_user(username="ed", password=PASSWORD)
    editor = grant(grant(editor, "delete_totpdevice"), "change_totpdevice")
    boss = django_user_model.objects.create_superuser(username="boss", password=PASSWORD)
    assert not policy.may_reset(editor, boss) and not policy.may_unlock(editor, boss)
    assert policy.may_reset(boss, editor) and policy.may_unlock(boss, editor)
    editor.is_active = False
    assert not policy.may_reset(editor, editor)
