"""A site that still routes DRF's password-only token view (check W007)."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token

urlpatterns = [
    path("api/", include([path("auth/token/", obtain_auth_token)])),
    path("", include("tests.drf_urls")),
]
