"""The custom user's own admin: not Django's UserAdmin, and no 2FA panel added by hand."""

from __future__ import annotations

from django.contrib import admin

from .models import EmailUser


@admin.register(EmailUser)
class EmailUserAdmin(admin.ModelAdmin):
    fields = ["email", "is_staff", "is_superuser"]
    search_fields = ["email"]
