"""Benchmarks and the load test for django-totp (issue 7). Not part of the package or the suite.

``python -m bench`` runs the benchmarks on the database the settings select (SQLite, or the
throw-away PostgreSQL of ``python -m tests.pg -- ...``); ``python -m bench.loadtest`` runs the
demo under gunicorn against PostgreSQL. ``make bench`` and ``make loadtest`` run both set-ups.
"""
