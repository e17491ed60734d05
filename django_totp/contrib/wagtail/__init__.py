"""django_totp for Wagtail sites (docs/wagtail.md).

Add ``"django_totp.contrib.wagtail"`` to ``INSTALLED_APPS`` before ``"django_totp"``. It gives
the 2FA pages the Wagtail admin's look (its ``django_totp/base.html``), lets the admin's icon
sprite and JavaScript catalogue load before the second factor, and adds "Reset two-factor
authentication" and "Unlock" to Wagtail's user list, for sites without Django's admin.
"""
