from __future__ import annotations

from django.urls import path

from . import passkey_views, views

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
    path("manage/keys/add/", views.AddKeyView.as_view(), name="add_key"),
    path("manage/keys/<int:pk>/rename/", views.RenameKeyView.as_view(), name="rename_key"),
    path("manage/keys/<int:pk>/remove/", views.RemoveKeyView.as_view(), name="remove_key"),
    path("manage/recovery-codes/", views.RecoveryCodesView.as_view(), name="recovery_codes"),
    path("passkey/begin/", passkey_views.PasskeyBeginView.as_view(), name="passkey_begin"),
    path("passkey/finish/", passkey_views.PasskeyFinishView.as_view(), name="passkey_finish"),
    path("manage/browsers/forget/", views.ForgetBrowsersView.as_view(), name="forget_browsers"),
]
