from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The Wagtail admin's assets that its skeleton template, and so the 2FA pages in its look,
# load on every page: the icon sprite (fetched by icons.js) and the JavaScript catalogue.
ASSET_URL_NAMES = ("wagtailadmin_sprite", "wagtailadmin_javascript_catalog")


class WagtailConfig(AppConfig):
    name = "django_totp.contrib.wagtail"
    label = "django_totp_wagtail"
    verbose_name = _("Two-factor authentication")

    def ready(self) -> None:
        from django.core import checks

        from django_totp.middleware import exempt_url_names

        from .checks import check_wagtail_look

        checks.register(check_wagtail_look, "django_totp", checks.Tags.templates)

        # SECURITY: two views that show nothing of the site or its users: Wagtail serves them
        # outside its admin's access check, to anonymous visitors too. Before this, icons.js
        # fetched the sprite, got the 2FA page's HTML instead and put a second copy of the
        # page into the first. Nothing else of Wagtail's admin is exempt (R16, R30).
        exempt_url_names(*ASSET_URL_NAMES)
