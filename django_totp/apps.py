from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoTOTPConfig(AppConfig):
    name = "django_totp"
    verbose_name = _("Two-factor authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.apps import apps
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import pre_delete

        from . import checks, notifications, receivers
        from .models import TOTPDevice, WebAuthnCredential

        checks.register()
        user_logged_in.connect(receivers.start_pending_stage, dispatch_uid="django_totp.pending")
        for model in (TOTPDevice, WebAuthnCredential):
            pre_delete.connect(
                receivers.end_device_sessions,
                sender=model,
                dispatch_uid=f"django_totp.sessions.{model.__name__}",
            )
        notifications.connect()
        # Django's admin registers every app's ModelAdmins in its own ready() (autodiscover), so
        # the user admin is there when django_totp comes after django.contrib.admin; otherwise,
        # or on a site that registers by hand (SimpleAdminConfig), check W005 says to add the
        # panel yourself.
        if apps.is_installed("django.contrib.admin"):
            from django.contrib.admin.apps import AdminConfig

            if isinstance(apps.get_app_config("admin"), AdminConfig):
                from .admin import attach_user_panel

                attach_user_panel()
