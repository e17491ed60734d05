"""A site shaped like Wagtail's bakerydemo: no URL named ``logout``, a catch-all at the end."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path


def page(request: HttpRequest, slug: str = "") -> HttpResponse:
    return HttpResponse(f"page {slug}")


class CMSLogoutView(auth_views.LogoutView):
    """Like Wagtail's admin logout: a LogoutView subclass with a URL name of its own."""

    next_page = "/"


def require_cms_access(view: Any) -> Any:
    """Like Wagtail's ``require_admin_access``: a decorator around every admin view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return view(request, *args, **kwargs)

    return wrapper


class StaffSite(AdminSite):
    """A second admin site, with a logout of its own."""


staff_site = StaffSite(name="staff_admin")

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("2fa/", include("django_totp.urls")),
    path("django-admin/", admin.site.urls),
    path("staff-admin/", staff_site.urls),
    path(
        "cms-admin/logout/",
        require_cms_access(CMSLogoutView.as_view()),
        name="cmsadmin_logout",
    ),
    re_path(r"^(?P<slug>.*)$", page, name="page"),
]
