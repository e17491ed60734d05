"""The test site plus a small Django REST framework API (tests/test_drf.py)."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_totp.decorators import totp_exempt
from django_totp.drf.views import obtain_verified_token

from .urls import urlpatterns as site_urlpatterns


class Me(APIView):
    """An API view with the project's default authentication and permissions."""

    def get(self, request: Request) -> Response:
        return Response({"username": request.user.get_username()})


urlpatterns = [
    *site_urlpatterns,
    path("api/v1/me/", Me.as_view(), name="api-me"),
    # Exempt from the middleware, so that only the permission class stands in the way.
    path("api/v1/exempt-me/", totp_exempt(Me.as_view()), name="api-exempt-me"),
    path("api/v1/token/", obtain_verified_token, name="api-token"),
]
