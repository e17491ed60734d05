"""A URLconf whose catch-all (Wagtail's ``path("", include(wagtail_urls))``) comes first."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from tests.bare_site_urls import page

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    re_path(r"^(?P<slug>.*)$", page, name="page"),
    path("2fa/", include("django_totp.urls")),
]
