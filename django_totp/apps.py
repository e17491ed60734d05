from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoTOTPConfig(AppConfig):
    name = "django_totp"
    verbose_name = _("Two-factor authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import checks, receivers

        checks.register()
        user_logged_in.connect(receivers.start_pending_stage, dispatch_uid="django_totp.pending")
