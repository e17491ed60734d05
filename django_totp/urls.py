from __future__ import annotations

from django.urls import path

from . import views

app_name = "django_totp"

urlpatterns = [
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("verify/recovery/", views.RecoveryView.as_view(), name="recovery"),
    path("sign-out/", views.SignOutView.as_view(), name="logout"),
    path("setup/", views.SetupView.as_view(), name="setup"),
    path("disable/", views.DisableView.as_view(), name="disable"),
    path("manage/", views.ManageView.as_view(), name="manage"),
    path("manage/devices/<int:pk>/rename/", views.RenameDeviceView.as_view(), name="rename"),
    path("manage/devices/<int:pk>/remove/", views.RemoveDeviceView.as_view(), name="remove"),
    path("manage/recovery-codes/", views.RecoveryCodesView.as_view(), name="recovery_codes"),
    path("manage/browsers/forget/", views.ForgetBrowsersView.as_view(), name="forget_browsers"),
]
