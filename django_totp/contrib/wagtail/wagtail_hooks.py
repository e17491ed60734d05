"""Wagtail's hooks (found by Wagtail in each installed app): URLs, user list buttons, the log's
labels, and the permissions its group editor offers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Permission
from django.db.models import QuerySet
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.widgets import Button

from django_totp import policy
from django_totp.models import TOTPDevice, WebAuthnCredential

from . import views

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


def admin_urls() -> list[URLPattern]:
    """Inside Wagtail's admin, behind its ``wagtailadmin.access_admin`` check."""
    return [
        path("two-factor/users/<str:user_pk>/reset/", views.reset, name=views.RESET_URL_NAME),
        path("two-factor/users/<str:user_pk>/unlock/", views.unlock, name=views.UNLOCK_URL_NAME),
    ]


def user_listing_buttons(
    user: AbstractBaseUser, request_user: AbstractBaseUser | AnonymousUser
) -> Iterator[Any]:
    """In each user's "More" menu, for those who may: reset, and unlock when locked out."""
    devices = TOTPDevice.objects.filter(user_id=user.pk)
    keys = WebAuthnCredential.objects.filter(user_id=user.pk)
    if policy.may_reset(request_user, user) and (devices.exists() or keys.exists()):
        url = reverse(views.RESET_URL_NAME, args=[user.pk])
        yield Button(_("Reset two-factor authentication"), url, icon_name="lock", priority=60)
    if policy.may_unlock(request_user, user) and devices.with_failures().exists():
        url = reverse(views.UNLOCK_URL_NAME, args=[user.pk])
        yield Button(_("Unlock (clear failed attempts)"), url, icon_name="lock-open", priority=61)


def permissions() -> QuerySet[Permission]:
    """The two permissions of staff screens, offered in Wagtail's group editor."""
    codenames = [name.split(".")[1] for name in (policy.RESET_PERMISSION, policy.UNLOCK_PERMISSION)]
    return Permission.objects.filter(content_type__app_label="django_totp", codename__in=codenames)


def log_actions(actions: Any) -> None:
    """The labels of the two actions in Wagtail's audit log."""
    label = _("Reset two-factor authentication")
    actions.register_action(views.RESET_ACTION, label, label)
    label = _("Unlock (clear failed attempts)")
    actions.register_action(views.UNLOCK_ACTION, label, label)


hooks.register("register_admin_urls", admin_urls)
hooks.register("register_user_listing_buttons", user_listing_buttons)
hooks.register("register_log_actions", log_actions)
hooks.register("register_permissions", permissions)
