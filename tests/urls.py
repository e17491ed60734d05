from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages import get_messages
from django.contrib.staticfiles import views as staticfiles_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path, re_path
from django.views.static import serve

from django_totp.decorators import totp_exempt


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


@login_required
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse("private page")


def api(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@totp_exempt
def help_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"help; verified={request.totp.is_verified}")


@totp_exempt
async def async_help(request: HttpRequest) -> HttpResponse:
    state = await request.atotp()
    return HttpResponse(f"async help; verified={state.is_verified}; device={state.has_device}")


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@login_required
def report_download(request: HttpRequest) -> HttpResponse:
    """A site view that happens to live under MEDIA_URL: not file serving (R30)."""
    return HttpResponse("confidential report")


def message_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("\n".join(str(message) for message in get_messages(request)))


urlpatterns = [
    path("", home, name="home"),
    path("private/", private, name="private"),
    path("api/data/", api, name="api"),
    path("help/", help_page, name="help"),
    path("async-help/", async_help, name="async-help"),
    path("health/", health, name="health"),
    path("messages/", message_list, name="messages"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("2fa/", include("django_totp.urls")),
    path("admin/", admin.site.urls),
    path("media/reports/latest/", report_download, name="report"),
    re_path(r"^media/uploads/(?P<path>.*)$", serve, {"document_root": "/nonexistent"}),
    re_path(r"^static/debug/(?P<path>.*)$", staticfiles_views.serve),
]
