"""bakerydemo's URL order: django_totp's URLs, Wagtail's admin and documents, then its pages."""

from __future__ import annotations

from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

urlpatterns = [
    path("2fa/", include("django_totp.urls")),  # docs/wagtail.md: before the catch-all
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("", include(wagtail_urls)),
]
