# Kliniki: `make install`, `make run`, `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SERVICES := identity registration triage clinical lab pharmacy billing notifier
PACKAGES := shared $(addprefix services/,$(SERVICES))
STAMP  := $(VENV)/.installed

.PHONY: install run test lint format token migrate bench demo audit-verify audit-history outbox-parked outbox-resend lock help admin-create rotate-keys

help:
	@echo "make install | run | test | lint | token USER=nurse_sarah | admin-create USER=... | rotate-keys | bench | migrate | lock"

$(STAMP): requirements.lock requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $(STAMP)

# The official AsyncAPI parser checks docs/asyncapi.yaml in make test (Node 20).
ASYNCAPI_CHECK := tools/asyncapi-check/node_modules/.installed
$(ASYNCAPI_CHECK): tools/asyncapi-check/package-lock.json
	npm ci --prefix tools/asyncapi-check --no-audit --no-fund --silent
	touch $(ASYNCAPI_CHECK)

install: $(STAMP) $(ASYNCAPI_CHECK) console ## create .venv with every service and the test tools; install and build the console

# --- the staff console (web/): npm ci from the committed lock, then a production build -------
WEB_STAMP := web/node_modules/.installed
WEB_SOURCES := $(shell find web/src web/scripts -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
.PHONY: console console-test

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $(WEB_STAMP)

web/dist/index.html: $(WEB_STAMP) $(WEB_SOURCES)
	cd web && npm run build

console: $(WEB_STAMP) web/dist/index.html ## install and build the console (web/dist); the notifier's kliniki-live.js too

console-test: install ## the console's unit tests and its browser tests in Chromium (each starts what it needs)
	$(BIN)/python -m pytest tests/unit/test_console.py tests/e2e

# Every consumer partitions its events with RabbitMQ's consistent-hash exchange, a plugin that
# ships with RabbitMQ but is off by default: enable it on a local broker (a remote one is its
# operator's; the services then say what is missing).
.PHONY: local-backends
local-backends: ## start this machine's PostgreSQL and RabbitMQ if needed, with enough connections and the consistent-hash exchange
	@tools/local_backends.sh

.PHONY: chromium
chromium: ## Debian's Chromium for the console's browser tests (Playwright downloads no browser here)
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium"; apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "could not install chromium: the browser tests need /usr/bin/chromium"

run: install local-backends ## migrate every database, then start identity and the seven other services (Ctrl-C stops them)
	$(BIN)/python tools/run_local.py

migrate: install
	$(BIN)/python -m kliniki.migrate $(SERVICES)

test: install local-backends chromium ## the whole suite against real PostgreSQL and RabbitMQ
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

token: install ## print a token (signs in at identity, so with `make run` going): make token USER=nurse_sarah
	@$(BIN)/python tools/mint_token.py $(USER)

admin-create: install ## create a staff account (first admin in production), prompts for the password: make admin-create USER=jane_admin
	$(BIN)/python -m identity.admin create $(USER)

rotate-keys: install ## identity signs with a new key; the old one stays published until its tokens expire
	$(BIN)/python -m identity.admin rotate-keys

bench: install local-backends ## benchmarks that print figures (BENCH=bench_x to pick one; they start what they measure)
	$(BIN)/python bench/run_all.py $(BENCH)

demo: install ## with `make run` going: replay the scenario and print what each staff member saw
	$(BIN)/python tools/demo.py

audit-verify: install ## check every service's hash-chained audit trail (exit 1 if broken)
	$(BIN)/python -m kliniki.audit_verify

audit-history: install ## a patient's history across services: make audit-history PATIENT=<id>
	$(BIN)/python tools/audit_history.py $(PATIENT)

outbox-parked: install ## events a service could not publish after repeated tries (parked)
	$(BIN)/python -m kliniki.outbox_admin list

outbox-resend: install ## send a parked event again once its cause is fixed: make outbox-resend SERVICE=registration ID=42
	$(BIN)/python -m kliniki.outbox_admin resend $(SERVICE) $(ID)

lock: ## refresh requirements.lock from the current .venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

# --- docker compose on one server (deploy/compose.yaml, deploy/README.md) -------------------
COMPOSE := docker compose --project-directory deploy -f deploy/compose.yaml
.PHONY: up down logs compose-check

# Says plainly what is missing instead of a docker error half-way through.
compose-check:
	@command -v docker >/dev/null 2>&1 || { echo "make: docker is not installed on this machine; install Docker Engine with the compose plugin (deploy/README.md), or use 'make run' to run the services without containers." >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make: no Docker engine is reachable ('docker info' failed): start the Docker daemon or point DOCKER_HOST at one (deploy/README.md), or use 'make run' to run the services without containers." >&2; exit 1; }
	@docker compose version >/dev/null 2>&1 || { echo "make: the Docker Compose v2 plugin is missing ('docker compose version' failed); install docker-compose-plugin (deploy/README.md)." >&2; exit 1; }

up: compose-check ## build the images and start everything with docker compose (creates deploy/.env once)
	@test -f deploy/.env || $(PYTHON) deploy/gen_env.py
	$(COMPOSE) up --build --detach
	@$(COMPOSE) ps
	@echo "Kliniki is starting: 'make logs' follows it; services on ports 8001-8007, RabbitMQ UI on 127.0.0.1:15672."

down: compose-check ## stop and remove the containers (the data volumes stay)
	$(COMPOSE) down

logs: compose-check ## follow the logs of every container (SERVICE=triage for one)
	$(COMPOSE) logs --follow --tail=200 $(SERVICE)
