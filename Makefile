# Paper Digest: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-postgres test-fast bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# The main job on the sample listings, in a folder of its own ($(DEMO)/: its settings, store,
# site and outbox), so it never mixes with your own configuration and can run again and
# again: it fetches, builds the preview into $(DEMO)/site and sends a demo reader's digest
# into $(DEMO)/outbox (nothing leaves the machine).
DEMO ?= demo
DEMO_DIGEST = $(BIN)/digest --config $(DEMO)/digest.toml

demo: $(STAMP)
	$(BIN)/digest init --sample --force $(DEMO)/digest.toml
	$(DEMO_DIGEST) fetch
	$(DEMO_DIGEST) preview
	$(DEMO_DIGEST) subscribers add reader@example.org --topics rl,nlp,vision,trending --hour 0 --active
	DIGEST_SECRET=$${DIGEST_SECRET:-demo-secret-for-the-sample-only} $(DEMO_DIGEST) send

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The suite again with every store fixture on PostgreSQL (127.0.0.1:5432, user postgres, or
# DIGEST_TEST_POSTGRES): a pool of databases it creates and drops. The browser tests check
# rendering, not the store, and stay on `make test`. Without a server the tests skip, saying
# why; under CI=true they fail.
test-postgres: $(STAMP)
	DIGEST_TEST_STORE=postgresql $(BIN)/python -m pytest -q -m "not browser"

# The edit-test loop: everything but the browser and the subprocess tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not browser and not slow"

bench: $(STAMP)
	$(BIN)/python -m bench

# ruff and mypy come pinned from the dev extra (pyproject.toml holds their settings).
lint: $(STAMP)
	$(BIN)/ruff check digest scheduler tests bench
	$(BIN)/ruff format --check digest scheduler tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO)
