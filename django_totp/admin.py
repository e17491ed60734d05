"""Device admin and the 2FA panel on a user's admin page (R7, R24, R32).

Staff see each device's state and can reset or unlock it, from the device list or from the
user's own page. Both paths share one confirmation flow per operation and go through
``services``. The admin's generic deletes are off: a device goes only through the reset flow
(or with its user). Only superusers act on superusers. Secrets are never shown, not even to
superusers.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import policy, reports, services
from .checks import has_user_panel
from .models import TOTPDevice, WebAuthnCredential, locked_condition, pk_value
from .staff import ask_staff_for_code, staff_is_verified
from .users import signed_in_user
from .views import deny_framing

# The roll-out page lists at most this many users a group, then says how many more.
ROLLOUT_ROWS_PER_GROUP = 100

if TYPE_CHECKING:
    from django.contrib.admin.options import ActionLocation
    from django.contrib.auth.base_user import AbstractBaseUser
    from django_stubs_ext import StrOrPromise

    # Django's admin classes are generic in the stubs only (not subscriptable at run time).
    _AnyDeviceAdmin = admin.ModelAdmin[Any]
    _DeviceInline = admin.TabularInline[TOTPDevice, AbstractBaseUser]
else:
    _AnyDeviceAdmin = admin.ModelAdmin
    _DeviceInline = admin.TabularInline


def may_manage_all(request: HttpRequest, users: Sequence[AbstractBaseUser]) -> bool:
    """Whether the staff member may act on every one of ``users``; says why not (R32)."""
    if all(policy.may_manage(request.user, user) for user in users):
        return True
    messages.error(
        request, _("Only superusers can reset or unlock a superuser's two-factor authentication.")
    )
    return False


def _log(request: HttpRequest, obj: models.Model, flag: int, message: str) -> None:
    # ``message`` is stored as plain text and shown as stored, so it stays in English whatever
    # the staff member's language (the operator's record, like the ``django_totp`` log).
    # LogEntry.objects.log_action is deprecated since Django 5.1; the model API is not.
    LogEntry.objects.create(
        user_id=signed_in_user(request).pk,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action_flag=flag,
        change_message=message,
    )


def _confirmed(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("confirmed") == "yes"


def user_change_url(site: admin.AdminSite, user: models.Model) -> str | None:
    """The user's change page on ``site``, or None when the user model is not registered."""
    opts = user._meta
    try:
        return reverse(
            f"{site.name}:{opts.app_label}_{opts.model_name}_change",
            args=[quote(user.pk)],
            current_app=site.name,
        )
    except NoReverseMatch:
        return None


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


class LockedListFilter(admin.SimpleListFilter):
    """Devices at ``TOTP_MAX_FAILURES``, by the model's own rule (``locked_condition``)."""

    title = _("locked")
    parameter_name = "locked"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, StrOrPromise]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[TOTPDevice]
    ) -> QuerySet[TOTPDevice]:
        if self.value() == "yes":
            return queryset.filter(locked_condition())
        if self.value() == "no":
            return queryset.exclude(locked_condition())
        return queryset


class RemovedByResetAdmin(_AnyDeviceAdmin):
    """What the device lists of both kinds share: no adding, and no removal but the reset.

    A device is created only by its owner's enrolment, which proves possession (R4). It goes
    away only through ``services.reset_user``, after the confirmation flow, or with its user;
    Django's generic delete page and bulk action are off (R32). Only superusers act on
    superusers.
    """

    actions = ["reset_two_factor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Devices are created only by their owner's enrolment, which proves possession (R4).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """The permission for the reset flow, and for deleting a user with devices.

        Django asks it for each device when a user is deleted (the cascade removes the
        devices with their user); its own delete page and bulk action are off below.
        """
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or policy.may_manage(request.user, obj.user))

    def get_actions(
        self, request: HttpRequest, action_location: ActionLocation | None = None
    ) -> dict[str, Any]:
        # SECURITY: Django's bulk delete would remove devices without the reset flow: no
        # verification of the staff member, signal, notice, log, nor recovery codes and
        # remembered browsers cleared. Reset is the way to remove devices (R32).
        # ``action_location`` is Django 6.1's (it warns about overrides without it); 5.2 and
        # 6.0 never pass it.
        # (Django 6 needs Python 3.12: on 3.11 Django is 5.2, which has no action_location.)
        if action_location is None or sys.version_info < (3, 12):
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # SECURITY: as for the bulk delete: one device goes away only through the reset flow.
        raise PermissionDenied

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # No "Delete" link to a page that refuses; the user panel offers the reset.
        extra_context = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        # An id no row can have is "no such device", whatever the database backend says.
        if from_field is None and pk_value(self.model, object_id) is None:
            return None
        return super().get_object(request, object_id, from_field)

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        # Django filters ``pk__in`` the posted ids: drop those no row can have first.
        name = helpers.ACTION_CHECKBOX_NAME
        selected = request.POST.getlist(name)
        valid = [pk for pk in selected if pk_value(self.model, pk) is not None]
        if valid != selected:
            post = request.POST.copy()
            post.setlist(name, valid)
            # django-stubs types HttpRequest.POST as immutable; Django lets code replace it.
            request.POST = post  # type: ignore[assignment]
        # Django 6.1 passes ``action_location``; 5.2 and 6.0 do not.
        return super().response_action(request, queryset, *args, **kwargs)

    def get_search_fields(self, request: HttpRequest | None) -> list[str]:
        user_model = get_user_model()
        names = [user_model.USERNAME_FIELD]
        email = user_model.get_email_field_name()
        if email not in names and _has_field(user_model, email):
            names.append(email)
        return [f"user__{name}" for name in names] + ["name"]

    def confirm_and_reset(
        self,
        request: HttpRequest,
        devices: QuerySet[Any],
        *,
        cancel_url: str,
        action: str,
        user: AbstractBaseUser | None = None,
    ) -> HttpResponse | None:
        """Confirm, then reset every user owning one of ``devices`` (apps or keys), or
        ``user``, who may have security keys only; None when done or refused.

        ``action`` is the admin action's name when called from the changelist, else ``""``.
        """
        if not staff_is_verified(request):
            return None
        if (asked := ask_staff_for_code(request)) is not None:
            return asked
        selected = list(devices.select_related("user"))
        users: dict[Any, AbstractBaseUser] = {device.user_id: device.user for device in selected}
        if user is not None:
            users[user.pk] = user
        if not may_manage_all(request, list(users.values())):
            return None
        if not _confirmed(request):
            return self._confirmation(
                request,
                "django_totp/admin/confirm_reset.html",
                title=_("Reset two-factor authentication?"),
                users=list(users.values()),
                devices=selected,
                cancel_url=cancel_url,
                action=action,
            )
        for user in users.values():
            for device in TOTPDevice.objects.filter(user_id=user.pk):
                _log(request, device, DELETION, "Reset two-factor authentication")
            for key in WebAuthnCredential.objects.filter(user_id=user.pk):
                _log(request, key, DELETION, "Reset two-factor authentication")
            _log(request, user, CHANGE, "Reset two-factor authentication")
            services.reset_user(user, actor=signed_in_user(request), request=request)
        self.message_user(
            request,
            ngettext(
                "Two-factor authentication was reset for %(count)d user.",
                "Two-factor authentication was reset for %(count)d users.",
                len(users),
            )
            % {"count": len(users)},
            messages.SUCCESS,
        )
        return None

    def _confirmation(self, request: HttpRequest, template: str, **context: Any) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            **context,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return deny_framing(request, TemplateResponse(request, template, context))

    def _changelist_url(self) -> str:
        opts = self.model._meta
        return reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist",
            current_app=self.admin_site.name,
        )

    @admin.action(description=_("Reset two-factor authentication"), permissions=["delete"])
    def reset_two_factor(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        return self.confirm_and_reset(
            request, queryset, cancel_url=self._changelist_url(), action="reset_two_factor"
        )


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(RemovedByResetAdmin):
    list_display = [
        "user",
        "name",
        "confirmed",
        "created_at",
        "last_used_at",
        "failure_count",
        "locked",
    ]
    list_filter = ["confirmed", LockedListFilter]
    list_select_related = ["user"]
    ordering = ["-created_at"]
    # SECURITY: no form field ever carries the secret; it is excluded, not just read-only (R7).
    fields = [
        "user",
        "name",
        "confirmed",
        "created_at",
        "confirmed_at",
        "last_used_at",
        "failure_count",
        "last_failure_at",
    ]
    readonly_fields = [
        "user",
        "confirmed",
        "created_at",
        "confirmed_at",
        "last_used_at",
        "failure_count",
        "last_failure_at",
    ]
    actions = ["reset_two_factor", "unlock_devices"]
    # Adds a link to the roll-out page to the list's tools.
    change_list_template = "django_totp/admin/device_change_list.html"

    @admin.display(boolean=True, description=_("locked"))
    def locked(self, device: TOTPDevice) -> bool:
        return device.is_locked

    def has_change_permission(self, request: HttpRequest, obj: TOTPDevice | None = None) -> bool:
        # Unlocking is a change; renaming a superuser's device is left to superusers too.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or policy.may_manage(request.user, obj.user))

    # -- unlock: one confirmation flow, for the action and the user panel --

    def confirm_and_unlock(
        self, request: HttpRequest, devices: QuerySet[TOTPDevice], *, cancel_url: str, action: str
    ) -> HttpResponse | None:
        """Confirm, then clear the failures of ``devices``; None when done or refused."""
        if not staff_is_verified(request):
            return None
        if (asked := ask_staff_for_code(request)) is not None:
            return asked
        selected = list(devices.select_related("user"))
        users = list({device.user_id: device.user for device in selected}.values())
        if not may_manage_all(request, users):
            return None
        if not _confirmed(request):
            return self._confirmation(
                request,
                "django_totp/admin/confirm_unlock.html",
                title=_("Unlock these devices?"),
                users=users,
                devices=selected,
                cancel_url=cancel_url,
                action=action,
            )
        for device in selected:
            services.unlock_device(device, actor=signed_in_user(request), request=request)
            _log(request, device, CHANGE, "Unlocked: failed attempts cleared")
        self.message_user(
            request,
            ngettext("%(count)d device unlocked.", "%(count)d devices unlocked.", len(selected))
            % {"count": len(selected)},
            messages.SUCCESS,
        )
        return None

    @admin.action(description=_("Unlock (clear failed attempts)"), permissions=["change"])
    def unlock_devices(
        self, request: HttpRequest, queryset: QuerySet[TOTPDevice]
    ) -> HttpResponse | None:
        return self.confirm_and_unlock(
            request, queryset, cancel_url=self._changelist_url(), action="unlock_devices"
        )

    # -- the user panel's buttons: the same flows, for one user's devices --

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("rollout/", wrap(self.rollout_view), name=f"{prefix}_rollout"),
            path(
                "user/<str:user_pk>/reset/",
                wrap(self.reset_user_view),
                name=f"{prefix}_reset_user",
            ),
            path(
                "user/<str:user_pk>/unlock/",
                wrap(self.unlock_user_view),
                name=f"{prefix}_unlock_user",
            ),
            *super().get_urls(),
        ]

    def _user_or_404(self, request: HttpRequest, user_pk: str) -> AbstractBaseUser:
        """The user whose 2FA the panel acts on; 403 when the staff member may not (R32)."""
        user_model = get_user_model()
        pk = pk_value(user_model, unquote(user_pk))
        try:
            if pk is None:  # no row can have it
                raise user_model.DoesNotExist
            user = user_model._default_manager.get(pk=pk)
        except (user_model.DoesNotExist, ValidationError, ValueError):
            raise Http404(_("No such user.")) from None
        if not policy.may_manage(request.user, user):
            raise PermissionDenied
        return user

    def reset_user_view(self, request: HttpRequest, user_pk: str) -> HttpResponse:
        """GET: the confirmation page; POST with ``confirmed=yes``: reset the user's 2FA."""
        if not self.has_delete_permission(request):
            raise PermissionDenied
        user = self._user_or_404(request, user_pk)
        back = user_change_url(self.admin_site, user) or self._changelist_url()
        devices = TOTPDevice.objects.filter(user_id=user.pk)
        # SECURITY: a user with security keys only is reset too (their keys go) (W6).
        has_keys = WebAuthnCredential.objects.filter(user_id=user.pk).exists()
        if not has_keys and not devices.exists():
            self.message_user(request, _("This user has no two-factor devices."), messages.INFO)
            return HttpResponseRedirect(back)
        return self.confirm_and_reset(
            request, devices, cancel_url=back, action="", user=user
        ) or HttpResponseRedirect(back)

    def unlock_user_view(self, request: HttpRequest, user_pk: str) -> HttpResponse:
        """GET: the confirmation page; POST with ``confirmed=yes``: clear the user's failures."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        user = self._user_or_404(request, user_pk)
        back = user_change_url(self.admin_site, user) or self._changelist_url()
        devices = TOTPDevice.objects.filter(user_id=user.pk).with_failures()
        if not devices.exists():
            self.message_user(request, _("No device of this user has failed attempts."))
            return HttpResponseRedirect(back)
        return self.confirm_and_unlock(
            request, devices, cancel_url=back, action=""
        ) or HttpResponseRedirect(back)

    def rollout_view(self, request: HttpRequest) -> HttpResponse:
        """Who the policy covers and has not enrolled, by group (``reports.rollout``).

        For staff who may see devices (view or change permission on them), as the device list.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = reports.rollout()
        groups = [
            RolloutGroup(
                name=name,
                rows=[
                    (entry, user_change_url(self.admin_site, entry.user))
                    for entry in entries[:ROLLOUT_ROWS_PER_GROUP]
                ],
                total=len(entries),
            )
            for name, entries in report.by_group.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Two-factor roll-out"),
            "opts": self.model._meta,
            "report": report,
            "groups": groups,
            "no_group": reports.NO_GROUP,
        }
        response = TemplateResponse(request, "django_totp/admin/rollout.html", context)
        return deny_framing(request, response)


@admin.register(WebAuthnCredential)
class WebAuthnCredentialAdmin(RemovedByResetAdmin):
    """The security keys and passkeys, beside the apps' list: read-only (W6).

    Staff remove keys as they remove apps, with the reset of their owner's two-factor
    authentication (``services.reset_user``): sessions ended, notice sent, admin log kept.
    """

    list_display = [
        "user",
        "name",
        "key_id",
        "transports",
        "discoverable",
        "backup_eligible",
        "created_at",
        "last_used_at",
    ]
    list_filter = ["backup_eligible", "discoverable"]
    list_select_related = ["user"]
    ordering = ["-created_at"]
    # SECURITY: the public key, the credential id and the last challenge's digest stay out of
    # every page; ``key_id`` shows the start of the id's digest, enough to tell keys apart.
    fields = readonly_fields = (
        "user",
        "name",
        "key_id",
        "transports",
        "aaguid",
        "discoverable",
        "backup_eligible",
        "backup_state",
        "sign_count",
        "created_at",
        "last_used_at",
    )

    @admin.display(description=_("key id (start)"))
    def key_id(self, key: WebAuthnCredential) -> str:
        return key.credential_id_hash[:8]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Read-only: a key's name is its owner's to change.
        return False


@dataclass(frozen=True)
class RolloutGroup:
    """One group on the roll-out page: its first rows (user, link to their page) of ``total``."""

    name: str
    rows: list[tuple[reports.NotEnrolled, str | None]]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass(frozen=True)
class UserPanel:
    """What the 2FA panel offers besides the device table.

    A URL is None when there is nothing to do or the staff member may not do it.
    """

    reset_url: str | None
    unlock_url: str | None
    recovery_codes_left: int
    keys: tuple[WebAuthnCredential, ...] = ()


class TOTPDeviceInline(_DeviceInline):
    """The 2FA panel on a user's admin page: devices, their state, reset and unlock.

    Read-only, and never the secret (R7). django_totp adds it to the admin registered for
    ``AUTH_USER_MODEL`` on the default admin site (``attach_user_panel``); for another site, or
    when django_totp is listed before ``django.contrib.admin``, add it to ``inlines`` yourself.
    """

    model = TOTPDevice
    fk_name = "user"
    template = "django_totp/admin/user_panel.html"
    fields = readonly_fields = ("name", "confirmed", "locked", "last_used_at", "created_at")
    ordering = ["created_at"]
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("Two-factor authentication")

    @admin.display(boolean=True, description=_("locked"))
    def locked(self, device: TOTPDevice) -> bool:
        return device.is_locked

    def get_queryset(self, request: HttpRequest) -> QuerySet[TOTPDevice]:
        # Each row's label names the user: one query for all rows, not one per row.
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request: HttpRequest, obj: AbstractBaseUser | None = None) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: AbstractBaseUser | None = None
    ) -> bool:
        # Read-only: saving the user's page never touches devices; changes go through buttons.
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: AbstractBaseUser | None = None
    ) -> bool:
        return False

    def get_formset(
        self, request: HttpRequest, obj: AbstractBaseUser | None = None, **kwargs: Any
    ) -> type[BaseInlineFormSet[TOTPDevice, AbstractBaseUser, Any]]:
        formset = super().get_formset(request, obj, **kwargs)
        # A new class per call, so this per-request attribute is read by this page only. No
        # panel while the user is being created (obj is None): there is nothing to show yet.
        panel = self.panel(request, obj) if obj is not None else None
        formset.totp_panel = panel  # type: ignore[attr-defined]
        return formset

    def panel(self, request: HttpRequest, user: AbstractBaseUser) -> UserPanel:
        device_admin = self.admin_site._registry.get(TOTPDevice)
        devices = TOTPDevice.objects.filter(user_id=user.pk)
        prefix = f"{self.admin_site.name}:django_totp_totpdevice"

        def url(name: str, allowed: bool) -> str | None:
            if not allowed or not policy.may_manage(request.user, user):
                return None
            return reverse(
                f"{prefix}_{name}", args=[quote(user.pk)], current_app=self.admin_site.name
            )

        keys = tuple(WebAuthnCredential.objects.filter(user_id=user.pk).order_by("created_at"))
        can_reset = can_unlock = False
        if isinstance(device_admin, TOTPDeviceAdmin):
            can_reset = device_admin.has_delete_permission(request) and (
                bool(keys) or devices.exists()
            )
            can_unlock = (
                device_admin.has_change_permission(request) and devices.with_failures().exists()
            )
        return UserPanel(
            reset_url=url("reset_user", can_reset),
            unlock_url=url("unlock_user", can_unlock),
            recovery_codes_left=services.recovery_codes_left(user),
            keys=keys,
        )


def attach_user_panel(site: admin.AdminSite | None = None) -> bool:
    """Add the 2FA panel to the admin registered for ``AUTH_USER_MODEL`` on ``site``.

    Called from ``AppConfig.ready`` for the default site. Changes ``inlines`` on that one
    ModelAdmin instance, never its class, and does nothing if the panel is already there.
    Returns whether the user admin has the panel afterwards (False when it is not registered).
    """
    site = site if site is not None else admin.site
    model_admin = site._registry.get(get_user_model())
    if model_admin is None:
        return False
    if not has_user_panel(model_admin):
        # django-stubs declares ``inlines`` a ClassVar; Django reads it from the instance, and
        # changing the class would change every site that shares it.
        model_admin.inlines = [*model_admin.inlines, TOTPDeviceInline]  # type: ignore[misc]
    return True
