PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-sqlite test-postgres serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Set up and run the demo on the embedded SQLite database.
demo: $(STAMP)
	$(BIN)/custodes demo

## Set up and run every test, on SQLite and on PostgreSQL.
test: $(STAMP)
	$(BIN)/python -m pytest

serve: $(STAMP)
	$(BIN)/custodes serve

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
