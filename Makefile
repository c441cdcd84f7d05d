# The two commands: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test install install-dev system system-test bench messages migrate seed clean-db

run: install messages migrate seed ## install, migrate, seed, serve on 127.0.0.1:8000
	$(PY) manage.py runserver 127.0.0.1:8000

test: install-dev system-test messages ## the whole suite; REQUIRE_SERVICES=1 fails on a missing tier
	scripts/run-tests.sh

bench: install-dev messages ## load the production server on 127.0.0.1 and print the table
	scripts/install-system-packages.sh bench
	$(PY) scripts/bench.py

system:
	scripts/install-system-packages.sh base

system-test:
	scripts/install-system-packages.sh base test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: system $(VENV)/.installed

install-dev: system $(VENV)/.installed-dev

messages: ## compile locale/*.po (the .mo files are build output)
	$(PY) manage.py compilemessages --ignore=.venv -v 0

migrate:
	@mkdir -p var
	$(PY) manage.py migrate --noinput -v 0

seed: ## the demo data; the demo orders' emails are written to var/mail/, not printed
	EMAIL_URL="filemail:///$(CURDIR)/var/mail" $(PY) manage.py seed_demo
