# The two commands: `make run` and `make test`. Everything else is a step of theirs.
# Steps print one line each (==>); the tools' own output only when something fails.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# -qq: errors only (a plain -q still prints every warning of the machine's pip config).
PIP := $(VENV)/bin/pip install -qq

.PHONY: run test lint install install-dev system system-test bench messages migrate seed

run: install messages migrate seed ## install, migrate, seed, serve on 127.0.0.1:8000
	@echo "==> Serving http://127.0.0.1:8000/ (staff: http://127.0.0.1:8000/admin/); Ctrl-C stops it"
	@$(PY) manage.py runserver 127.0.0.1:8000

test: install-dev system-test messages lint ## ruff, then the whole suite; REQUIRE_SERVICES=1 fails on a missing tier
	@scripts/run-tests.sh

lint: install-dev ## ruff: lint and import order (pyproject.toml); the same check as .pre-commit-config.yaml
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check --no-cache .

bench: install-dev messages ## load the production server on 127.0.0.1 and print the table
	@scripts/install-system-packages.sh bench
	$(PY) -m scripts.bench

system:
	@scripts/install-system-packages.sh base

system-test:
	@scripts/install-system-packages.sh base test scan

$(PY):
	@echo "==> Virtualenv: $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	@echo "==> Python packages: requirements.txt into $(VENV)"
	@$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	@echo "==> Python packages: requirements-dev.txt (with requirements.txt) into $(VENV)"
	@$(PIP) -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: system $(VENV)/.installed

install-dev: system $(VENV)/.installed-dev

messages: ## compile locale/*.po (the .mo files are build output)
	@$(PY) manage.py compilemessages --ignore=.venv -v 0

migrate:
	@mkdir -p var
	@echo "==> Database: migrate"
	@$(PY) manage.py migrate --noinput -v 0

seed: ## the demo data; the demo orders' emails are written to var/mail/, not printed
	@echo "==> Demo data: seed_demo"
	@EMAIL_URL="filemail:///$(CURDIR)/var/mail" $(PY) manage.py seed_demo

# Backups (docs/operations.md, "Backups and restore"): DATABASE_URL's database and the documents.
.PHONY: backup restore
BACKUP_DIR ?= var/backups

backup: ## pg_dump of DATABASE_URL's database and a tar of the documents, in a new directory under BACKUP_DIR
	@$(PY) manage.py backup $(BACKUP_DIR)

restore: ## BACKUP=<directory> [FORCE=1]: into DATABASE_URL's database and MEDIA_ROOT, then reconcile --files
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=<directory made by make backup> [FORCE=1]" >&2; exit 2; }
	@$(PY) manage.py restore $(if $(FORCE),--force) $(BACKUP)

# Outside scanners (docs/security.md, "Scanners"): wapiti and sqlmap against the shop on 127.0.0.1.
.PHONY: scan

scan: install-dev messages ## wapiti and sqlmap against the production settings on 127.0.0.1 (plain http), anonymous and signed in; the table of findings (SCAN_PROFILE=quick: the test tier's shorter run)
	@scripts/install-system-packages.sh scan
	$(PY) -m scripts.scan
