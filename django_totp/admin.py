"""Device admin: staff see state and can reset or unlock; secrets are never shown (R7, R24)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services, session
from .models import TOTPDevice


def staff_is_verified(request: HttpRequest) -> bool:
    """Only a staff session verified with its own device may reset or unlock others (R24)."""
    state = getattr(request, "totp", None) or session.load_state(request)
    if not state.is_verified:
        messages.error(
            request,
            _("Set up and verify your own two-factor authentication before changing others'."),
        )
    return bool(state.is_verified)


def _log(request: HttpRequest, device: TOTPDevice, flag: int, message: str) -> None:
    # LogEntry.objects.log_action is deprecated in Django 5.1; the model API works on 4.2+.
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(TOTPDevice),
        object_id=str(device.pk),
        object_repr=str(device)[:200],
        action_flag=flag,
        change_message=message,
    )


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "name",
        "confirmed",
        "created_at",
        "last_used_at",
        "failure_count",
        "locked",
    ]
    list_filter = ["confirmed"]
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

    @admin.display(boolean=True, description=_("locked"))
    def locked(self, device: TOTPDevice) -> bool:
        return device.is_locked

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Devices are created only by their owner's enrolment, which proves possession (R4).
        return False

    @admin.action(description=_("Reset two-factor authentication"), permissions=["delete"])
    def reset_two_factor(
        self, request: HttpRequest, queryset: QuerySet[TOTPDevice]
    ) -> HttpResponse | None:
        if not staff_is_verified(request):
            return None
        devices = list(queryset.select_related("user"))
        users = {device.user_id: device.user for device in devices}
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Reset two-factor authentication?"),
                "users": list(users.values()),
                "devices": devices,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "django_totp/admin/confirm_reset.html", context)
        for user in users.values():
            for device in TOTPDevice.objects.filter(user=user):
                _log(request, device, DELETION, "Reset two-factor authentication")
            services.reset_user(user, actor=request.user, request=request)
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

    @admin.action(description=_("Unlock (clear failed attempts)"), permissions=["change"])
    def unlock_devices(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:
        if not staff_is_verified(request):
            return
        count = 0
        for device in queryset.select_related("user"):
            services.unlock_device(device, actor=request.user, request=request)
            _log(request, device, CHANGE, "Unlocked: failed attempts cleared")
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d device unlocked.", "%(count)d devices unlocked.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        username_field = get_user_model().USERNAME_FIELD
        return [f"user__{username_field}", "name"]
