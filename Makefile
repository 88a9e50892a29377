PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The console's front-end packages (npm, pinned by package-lock.json) are copied here and served by the app.
VENDOR := src/custodes/console/static/vendor
NODE_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
# Browser tests drive Debian's Chromium; Playwright must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install demo test test-sqlite test-postgres serve clean browser screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js and npm (apt-get install -y nodejs npm), then run make again"; exit 1; }
	npm ci --no-audit --no-fund --silent
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/leaflet $(VENDOR)/htmx
	cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css node_modules/leaflet/dist/images $(VENDOR)/leaflet/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

browser:
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is missing: the console tests need Debian's Chromium (apt-get install -y chromium)"; exit 1; }

## Set up and run the demo on the embedded SQLite database.
demo: install
	$(BIN)/custodes demo

## Set up and run every test, on SQLite and on PostgreSQL.
test: install browser
	$(BIN)/python -m pytest

serve: install
	$(BIN)/custodes serve

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info node_modules $(VENDOR)

## Screenshots of the console for the README (a seeded temporary server, Debian's Chromium).
screenshots: install browser
	$(BIN)/python -m custodes.lab.screenshots docs/screenshots
