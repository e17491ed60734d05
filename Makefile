# Developer and CI entry points. CI runs `make test` (via .ci/run) on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The languages django_totp ships (django_totp/locale/<lang>/LC_MESSAGES).
LANGS := de es fr it ja nl pl pt_BR

# The interpreters of the test matrix (noxfile.py): pythonX.Y on PATH if it runs, else pyenv's
# newest X.Y (pyenv's shims run only where PYENV_VERSION names it). Override one to point
# elsewhere, e.g. `make test PYTHON312=/opt/python3.12/bin/python3.12`.
PYENV_ROOT ?= $(HOME)/.pyenv
probe = $(or $(shell python$(1) -c 'import sys; print(sys.executable)' 2>/dev/null),$(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)))))
PYTHON311 ?= $(call probe,3.11)
PYTHON312 ?= $(call probe,3.12)
PYTHON313 ?= $(call probe,3.13)
# The newest Django needs Python 3.12+: .venv (demo, lint, PostgreSQL, browser) runs on the newest.
PYTHON ?= $(or $(PYTHON313),$(PYTHON312))
# Only the interpreters that run; nox finds them first in this folder, on PATH.
PYTHONS_DIR := .nox/pythons
STAMP_BENCH := $(VENV)/.installed-bench
STAMP_DOCS := $(VENV)/.installed-docs
# No .pytest_cache in the working tree.
PYTEST := $(BIN)/pytest -p no:cacheprovider
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -q -y

.PHONY: typecheck venv pythons matrix wagtail demo docs quick postgres-bin redis-bin gettext-bin messages browser-deps test screenshots lint bench loadtest clean distclean

venv: $(STAMP)

# Re-install whenever the package metadata or the tool pins change.
$(STAMP): setup.cfg pyproject.toml requirements/dev.txt
	@if [ -z "$(PYTHON)" ]; then echo "No Python 3.12 or 3.13 found for .venv (set PYTHON=...)" >&2; exit 1; fi
	@# A .venv from before (Python 3.11, Django 5.2) is replaced.
	if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		rm -rf $(VENV); \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@# Before issue 12 this checkout installed as "django-totp", the unrelated project's name
	@# (and left django_totp.egg-info here, which importlib.metadata finds on sys.path).
	$(BIN)/python -m pip uninstall --quiet --yes django-totp 2>/dev/null || true
	rm -rf django_totp.egg-info
	$(BIN)/python -m pip install --quiet -e ".[test,browser]" -r requirements/dev.txt
	touch $@

# Served on 127.0.0.1, opened as localhost: browsers allow security keys (WebAuthn) over http at
# localhost only. DEMO_PORT tells the demo's settings the origin its keys belong to.
demo: venv
	$(BIN)/python manage.py migrate --noinput
	@echo "Demo site: http://localhost:$(PORT)/ (security keys work at localhost, not at 127.0.0.1)"
	DEMO_PORT=$(PORT) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# PostgreSQL server binaries for tests/pg.py. Debian's postgresql-common would create and start
# a "main" cluster on install; switch that off first, as the Docker postgres image does.
postgres-bin:
	@if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null; then \
		echo "PostgreSQL server binaries: found"; \
	else \
		echo "PostgreSQL server binaries: installing postgresql-15"; \
		$(APT_GET) update; \
		$(APT_GET) install --no-install-recommends postgresql-common; \
		$(SUDO) sed -ri 's/^#?\s*create_main_cluster\b.*/create_main_cluster = false/' \
			/etc/postgresql-common/createcluster.conf; \
		$(APT_GET) install --no-install-recommends postgresql-15; \
	fi

# Redis for tests/redis_server.py: cached_db sessions on a real shared cache (R27). Debian's
# package would start a system-wide server where systemd runs; the tests start their own.
redis-bin:
	@if command -v redis-server >/dev/null; then \
		echo "Redis server: found"; \
	else \
		echo "Redis server: installing redis-server"; \
		$(APT_GET) update; \
		$(APT_GET) install --no-install-recommends redis-server; \
	fi

# GNU gettext for `make messages` and tests/test_i18n.py (which runs makemessages).
gettext-bin:
	@if command -v xgettext >/dev/null && command -v msgmerge >/dev/null && command -v msgfmt >/dev/null; then \
		echo "GNU gettext: found"; \
	else \
		echo "GNU gettext: installing"; \
		$(APT_GET) update; \
		$(APT_GET) install --no-install-recommends gettext; \
	fi

# Collect django_totp's strings into its catalogs (run inside the app, so only its own strings,
# and without settings), then compile them. Translate every new entry before committing:
# tests/test_i18n.py fails on an empty msgstr, a "#, fuzzy" entry or a stale .mo.
messages: venv gettext-bin
	cd django_totp && env -u DJANGO_SETTINGS_MODULE ../$(BIN)/django-admin makemessages $(addprefix -l ,$(LANGS))
	cd django_totp && env -u DJANGO_SETTINGS_MODULE ../$(BIN)/django-admin compilemessages $(addprefix -l ,$(LANGS))

# Debian packages for tests/browser and `make screenshots`: Chromium (Playwright drives
# /usr/bin/chromium; its own browser download cannot work here), a font for readable pages,
# zbarimg to decode the QR code from a screenshot, and oathtool to compute codes with an
# implementation that is not ours.
BROWSER_PACKAGES := chromium fonts-liberation zbar-tools oathtool

browser-deps:
	@missing=""; \
	for package in $(BROWSER_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q ' installed$$' \
			|| missing="$$missing $$package"; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "Browser test packages: found"; \
	else \
		echo "Browser test packages: installing$$missing"; \
		$(APT_GET) update; \
		$(APT_GET) install --no-install-recommends $$missing; \
	fi

# Services the suite needs: a throw-away Redis for every pass that runs tests/test_revocation.py.
WITH_REDIS := $(BIN)/python -m tests.redis_server --

# The matrix on SQLite, one nox session per cell (noxfile.py), then the passes that run on the
# newest Django only. A cell whose interpreter is missing is skipped and named; with CI=true it
# fails the run instead. The cells run in two nox processes at once (MATRIX_GROUPS, one group of
# Pythons per process, comma-separated): the suite waits on threads and sockets often enough that
# two at a time take little more than one on two cores.
NOX := UV_PYTHON_DOWNLOADS=never PATH="$(CURDIR)/$(PYTHONS_DIR):$$PATH" $(BIN)/nox --download-python never
MATRIX_GROUPS ?= 3.13 3.11,3.12

pythons:
	@rm -rf $(PYTHONS_DIR) && mkdir -p $(PYTHONS_DIR)
	@for v in 3.11 3.12 3.13; do \
		case $$v in 3.11) p="$(PYTHON311)";; 3.12) p="$(PYTHON312)";; 3.13) p="$(PYTHON313)";; esac; \
		if [ -n "$$p" ] && "$$p" -c '' 2>/dev/null; then \
			ln -s "$$p" $(PYTHONS_DIR)/python$$v; echo "Python $$v: $$p"; \
		else \
			echo "Python $$v: not found$${p:+ ($$p does not run)}"; \
		fi; \
	done

matrix: venv redis-bin gettext-bin pythons
	@missing=""; for v in 3.11 3.12 3.13; do \
		[ -x $(PYTHONS_DIR)/python$$v ] || missing="$$missing $$v"; \
	done; \
	if [ -n "$$missing" ]; then \
		skipped=$$($(NOX) -l 2>/dev/null | grep -E "^\* tests" \
			| grep -E "python='($$(echo $$missing | tr ' ' '|'))'" | sed 's/^\* //' | tr '\n' ' '); \
		if [ "$${CI:-}" = true ]; then \
			echo "CI: Python$$missing not found, so these cells cannot run: $$skipped" >&2; exit 1; \
		fi; \
		echo "== matrix: Python$$missing not found, skipping: $$skipped=="; \
	fi; \
	pids=""; logs=""; \
	for group in $(MATRIX_GROUPS); do \
		pythons=""; for v in $${group//,/ }; do [ -x $(PYTHONS_DIR)/python$$v ] && pythons="$$pythons $$v"; done; \
		[ -n "$$pythons" ] || continue; \
		log=.nox/matrix-$${group//,/-}.log; logs="$$logs $$log"; \
		echo "== matrix on SQLite, Python$$pythons (log: $$log) =="; \
		$(NOX) -s tests -p $$pythons >$$log 2>&1 & pids="$$pids $$!"; \
	done; \
	status=0; for pid in $$pids; do wait $$pid || status=1; done; \
	for log in $$logs; do echo "== $$log =="; grep -vE '^(tests/|\.+ +\[)' $$log | tail -n 60; done; \
	echo "== matrix: cells =="; grep -hE '^nox > Session ' $$logs || true; \
	exit $$status

test: venv postgres-bin redis-bin gettext-bin browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "== types =="
	$(MAKE) --no-print-directory typecheck
	@echo "== docs =="
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory matrix
	@echo "== packaging: sdist, wheel, install =="
	$(PYTEST) tests/test_packaging.py
	@echo "== PostgreSQL, newest Django =="
	$(BIN)/python -m tests.pg -- $(WITH_REDIS) $(PYTEST)
	@echo "== demo site =="
	$(PYTEST) tests/demo --ds=demo_project.settings
	@echo "== browser =="
	$(PYTEST) tests/browser --ds=demo_project.settings
	@echo "== custom user model =="
	$(PYTEST) tests/custom_user --ds=tests.custom_user.settings
	@echo "== switching from other 2FA packages (nox session imports), SQLite and PostgreSQL =="
	$(NOX) -s imports
	@# PostgreSQL keeps only numbers in integer columns and UUIDs in UUID columns: the branches
	@# for such hand-edited rows run on SQLite, whose floor is tests/imports/coverage.toml's.
	$(BIN)/python -m tests.pg -- env $(NOX) -s imports -- --cov-fail-under=95
	@echo "== Wagtail =="
	$(MAKE) --no-print-directory wagtail

# The Wagtail pass: tests/wagtail_site (a site shaped like Wagtail's bakerydemo, docs/wagtail.md)
# in noxfile.py's "wagtail" sessions, each a venv of its own with Wagtail from PyPI: the newest
# 7.x on the newest Django it supports, and the newest Wagtail on the newest Django. The cells
# (one nox tag each) run at once, like the matrix's groups; each logs to .nox/<tag>.log.
wagtail: venv pythons
	@tags=$$($(NOX) -l -s wagtail 2>/dev/null | grep -oE '\[wagtail-[0-9.]+\]' | tr -d '[]'); \
	if [ -z "$$tags" ]; then echo "noxfile.py lists no wagtail sessions" >&2; exit 1; fi; \
	pids=""; logs=""; \
	for tag in $$tags; do \
		log=.nox/$$tag.log; logs="$$logs $$log"; \
		echo "== $$tag (log: $$log) =="; \
		$(NOX) -t $$tag >$$log 2>&1 & pids="$$pids $$!"; \
	done; \
	status=0; for pid in $$pids; do wait $$pid || status=1; done; \
	for log in $$logs; do echo "== $$log =="; grep -vE '^(tests/|\.+ +\[)' $$log | tail -n 25; done; \
	exit $$status

# The inner loop: the SQLite suite alone on the newest Django (.venv), first failure stops it;
# what needs Redis is skipped, and so are the packaging tests (they build and install the
# wheel). One file or test: `make quick T=tests/test_views.py::TestVerify`.
quick: venv
	$(PYTEST) -x -q $(or $(T),--ignore=tests/test_packaging.py)

# The documentation site (docs/, Sphinx): built afresh, warnings and unresolved references fail it.
$(STAMP_DOCS): $(STAMP) requirements/docs.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/docs.txt
	touch $@

docs: $(STAMP_DOCS)
	$(BIN)/sphinx-build -E -a -q -W --keep-going -n -b html docs build/docs
	@echo "Docs: build/docs/index.html"

# Benchmarks and load test (bench/, issue 7): django-otp and httpx from the `bench` extra.
$(STAMP_BENCH): $(STAMP) setup.cfg
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,bench]"
	touch $@

# Figures on SQLite, then on a throw-away PostgreSQL. BENCH_ARGS: e.g. "--rounds 40 overhead".
bench: $(STAMP_BENCH) postgres-bin
	@echo "== benchmarks, SQLite =="
	$(BIN)/python -m bench $(BENCH_ARGS)
	@echo "== benchmarks, PostgreSQL =="
	$(BIN)/python -m tests.pg -- $(BIN)/python -m bench $(BENCH_ARGS)

# The demo under gunicorn (4 workers) on a throw-away PostgreSQL, with simulated users and an
# attacker. Fails if any request errs or any replayed or guessed code is accepted.
loadtest: $(STAMP_BENCH) postgres-bin
	$(BIN)/python -m tests.pg -- $(BIN)/python -m bench.loadtest $(LOADTEST_ARGS)

# The PNGs in docs/screenshots, shown in README.md, from the demo in Chromium.
screenshots: venv browser-deps
	$(BIN)/python -m tests.browser.screenshots docs/screenshots

# mypy --strict on django_totp/ ([tool.mypy]): as Django 6.x sees it (Python 3.12 stubs), then 5.2.
typecheck: venv
	$(BIN)/mypy
	$(BIN)/mypy --python-version 3.11

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Build and test output; `distclean` also drops the venv.
clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache .coverage htmlcov
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .nox
