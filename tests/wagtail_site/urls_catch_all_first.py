"""The recipe's mistake: django_totp's URLs after Wagtail's catch-all (check E028)."""

from __future__ import annotations

from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("", include(wagtail_urls)),
    path("2fa/", include("django_totp.urls")),
]
