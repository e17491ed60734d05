"""The demo's WSGI application with its static files, for the server in ``server.py``.

gunicorn serves no static files and the demo runs here with ``DEBUG = False``, so Django's
``StaticFilesHandler`` (what its live-server tests use) serves them from the app directories.
"""

from __future__ import annotations

import os

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.browser.settings")

application = StaticFilesHandler(get_wsgi_application())
