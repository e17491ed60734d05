"""A site shaped like Wagtail's bakerydemo: no URL named ``logout``, a catch-all at the end."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path


def page(request: HttpRequest, slug: str = "") -> HttpResponse:
    return HttpResponse(f"page {slug}")


class StaffSite(AdminSite):
    """A second admin site, with a logout of its own."""


staff_site = StaffSite(name="staff_admin")

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("2fa/", include("django_totp.urls")),
    path("django-admin/", admin.site.urls),
    path("staff-admin/", staff_site.urls),
    re_path(r"^(?P<slug>.*)$", page, name="page"),
]
