"""Fixtures for the Wagtail site's tests (run with ``--ds=tests.wagtail_site.settings``).

The shared fixtures of ``tests/conftest.py`` apply too; ``user`` is a front-end account here.
Wagtail's migrations create its "Editors" group, which holds ``wagtailadmin.access_admin``.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from tests.conftest import PASSWORD, make_device


@pytest.fixture(autouse=True)
def wagtail_site_only(settings):
    if settings.ROOT_URLCONF != "tests.wagtail_site.urls":
        pytest.skip("run with --ds=tests.wagtail_site.settings")


@pytest.fixture
def editor(django_user_model):
    """An editor of the site: not is_staff, in Wagtail's "Editors" group."""
    editor = django_user_model.objects.create_user(username="ed", password=PASSWORD)
    editor.groups.add(Group.objects.get(name="Editors"))
    return editor


@pytest.fixture
def editor_device(editor):
    return make_device(editor)


@pytest.fixture
def manager(django_user_model):
    """An editor who manages accounts: Wagtail's user pages and the admin's 2FA permissions."""
    manager = django_user_model.objects.create_user(username="mia", password=PASSWORD)
    manager.groups.add(Group.objects.get(name="Editors"))
    for codename in ("change_user", "delete_totpdevice", "change_totpdevice"):
        manager.user_permissions.add(Permission.objects.get(codename=codename))
    make_device(manager)
    return manager


def sign_in(client: Client, user, next_url: str = "/admin/") -> Client:
    """The password step through Wagtail's own sign-in page."""
    response = client.post(
        "/admin/login/", {"username": user.get_username(), "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302 and response["Location"] == next_url, response
    return client


@pytest.fixture
def editor_client(client, editor, editor_device, code_for) -> Client:
    """An editor signed in through Wagtail's page and verified with a code."""
    sign_in(client, editor)
    response = client.post("/2fa/verify/", {"code": code_for(editor_device)})
    assert response.status_code == 302
    return client


@pytest.fixture
def manager_client(client, manager, code_for) -> Client:
    sign_in(client, manager)
    response = client.post("/2fa/verify/", {"code": code_for(manager.totp_devices.get())})
    assert response.status_code == 302
    return client
