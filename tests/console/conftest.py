"""The browser-test harness: a real uvicorn server of the app on a free port, against a migrated temp
database seeded with two agencies' officers and a subject with an order, conditions, a device and a
week of fixes (`custodes.lab.console_scenario`), driven by Playwright through Debian's Chromium.

One server and one browser per test session; each test gets a fresh browser context (no cookies).
Use `signed_in(username)` for a page of a signed-in officer and `check_axe(page)` on every page.
"""

from __future__ import annotations

import os

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")  # never fetch a browser of Playwright's own

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from custodes.app import create_app
from custodes.bootstrap import Container, bootstrap
from custodes.clock import FrozenClock
from custodes.config import Settings
from custodes.lab import console_scenario
from custodes.lab.broker import free_port
from custodes.lab.console_scenario import PASSWORD, Scenario

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class ConsoleServer:
    url: str
    container: Container
    scenario: Scenario


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[ConsoleServer]:
    home = tmp_path_factory.mktemp("console")
    db = home / "custodes.db"
    shutil.copyfile(sqlite_template, db)
    container = bootstrap(Settings(home=home / "home", database_url=f"sqlite:///{db}"), FrozenClock(NOW))
    scenario = console_scenario.seed(container)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console server did not start within 20 s")
        time.sleep(0.05)
    yield ConsoleServer(f"http://127.0.0.1:{port}", container, scenario)
    server.should_exit = True
    thread.join(timeout=10)
    container.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the console tests need Debian's Chromium (apt-get install -y chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make install` (npm ci) first")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, console_server: ConsoleServer):
    # bypass_csp lets the test inject axe-core; the app's own pages never need an inline script.
    context = browser.new_context(base_url=console_server.url, viewport={"width": 1280, "height": 800},
                                  bypass_csp=True, accept_downloads=True)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def signed_in(page) -> Callable[[str], object]:
    def go(username: str = "casey"):
        sign_in(page, username)
        page.wait_for_url("**/caseload")
        return page

    return go


def check_axe(page) -> None:
    """Run axe-core on the page as it stands; fail on any serious or critical violation."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, "axe-core: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in bad)
