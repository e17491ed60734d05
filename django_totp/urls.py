from __future__ import annotations

from django.urls import path

from . import views

app_name = "django_totp"

urlpatterns = [
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("setup/", views.SetupView.as_view(), name="setup"),
    path("disable/", views.DisableView.as_view(), name="disable"),
]
