"""Apps that fit django_totp to other frameworks' admins (``django_totp.contrib.wagtail``)."""
