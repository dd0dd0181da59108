# Kliniki: `make install`, `make run`, `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SERVICES := registration triage clinical lab pharmacy billing notifier
PACKAGES := shared $(addprefix services/,$(SERVICES))
STAMP  := $(VENV)/.installed

.PHONY: install run test lint format token migrate bench demo clean-test-data lock help

help:
	@echo "make install | run | test | lint | token USER=nurse_sarah | bench | migrate | lock"

$(STAMP): requirements.lock requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $(STAMP)

install: $(STAMP) ## create .venv with every service and the test tools

run: install ## migrate every database, then start all seven services (Ctrl-C stops them)
	$(BIN)/python tools/run_local.py

migrate: install
	$(BIN)/python -m kliniki.migrate $(SERVICES)

test: install ## the whole suite against real PostgreSQL and RabbitMQ
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

token: install ## print a token: make token USER=nurse_sarah
	@$(BIN)/python tools/mint_token.py $(USER)

bench: install ## benchmarks that print figures (BENCH=bench_x to pick one; they start what they measure)
	$(BIN)/python bench/run_all.py $(BENCH)

demo: install ## with `make run` going: replay the scenario and print what each staff member saw
	$(BIN)/python tools/demo.py

lock: ## refresh requirements.lock from the current .venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
