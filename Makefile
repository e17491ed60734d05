# Developer and CI entry points. CI runs `make test` (via .ci/run) on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENV42 := .venv-django42
# The languages django_totp ships (django_totp/locale/<lang>/LC_MESSAGES).
LANGS := de es
STAMP42 := $(VENV42)/.installed
STAMP_BENCH := $(VENV)/.installed-bench
STAMP_DOCS := $(VENV)/.installed-docs
# No .pytest_cache in the working tree.
PYTEST := $(BIN)/pytest -p no:cacheprovider
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -q -y

.PHONY: typecheck venv demo docs quick postgres-bin redis-bin gettext-bin messages browser-deps test screenshots lint bench loadtest clean distclean

venv: $(STAMP)

# Re-install whenever the package metadata or the tool pins change.
$(STAMP): setup.cfg pyproject.toml requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]" -r requirements/dev.txt
	touch $@

demo: venv
	$(BIN)/python manage.py migrate --noinput
	@echo "Demo site: http://127.0.0.1:$(PORT)/"
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

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

# The oldest supported Django, in a venv of its own; the main venv has the newest.
$(STAMP42): setup.cfg pyproject.toml requirements/dev.txt
	test -x $(VENV42)/bin/python || $(PYTHON) -m venv $(VENV42)
	$(VENV42)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV42)/bin/python -m pip install --quiet -e ".[test]" -r requirements/dev.txt "Django>=4.2,<5.0"
	touch $@

# Services the suite needs: a throw-away Redis for every pass that runs tests/test_revocation.py.
WITH_REDIS := $(BIN)/python -m tests.redis_server --

test: venv $(STAMP42) postgres-bin redis-bin gettext-bin browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "== types =="
	$(MAKE) --no-print-directory typecheck
	@echo "== docs =="
	$(MAKE) --no-print-directory docs
	@echo "== SQLite =="
	$(WITH_REDIS) $(PYTEST) --cov=django_totp --cov-report=term
	@echo "== PostgreSQL =="
	$(BIN)/python -m tests.pg -- $(WITH_REDIS) $(PYTEST)
	@echo "== demo site =="
	$(PYTEST) tests/demo --ds=demo_project.settings
	@echo "== browser =="
	$(PYTEST) tests/browser --ds=demo_project.settings
	@echo "== custom user model =="
	$(PYTEST) tests/custom_user --ds=tests.custom_user.settings
	@echo "== Django 4.2 LTS, SQLite =="
	$(WITH_REDIS) $(VENV42)/bin/pytest -p no:cacheprovider

# The inner loop: the SQLite suite alone, first failure stops it; what needs Redis is skipped.
quick: venv
	$(PYTEST) -x -q

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
	rm -rf $(VENV) $(VENV42)
