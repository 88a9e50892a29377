"""`make screenshots`: seed the console scenario on a temporary database, serve it, and save PNGs of the
caseload, the subject page with its map, the alert queue and the face-review queue (Chromium).

    python -m custodes.lab.screenshots docs/screenshots [--port 18520]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

CHROMIUM = "/usr/bin/chromium"


def _serve(port: int):
    import uvicorn

    from custodes.app import create_app
    from custodes.bootstrap import bootstrap
    from custodes.config import Settings
    from custodes.db import migrate
    from custodes.lab import console_ops_scenario, console_scenario

    home = Path(tempfile.mkdtemp(prefix="custodes-screens-"))
    url = f"sqlite:///{home / 'custodes.db'}"
    migrate.upgrade(url)
    container = bootstrap(Settings.from_env(home=home, database_url=url))
    scenario = console_scenario.seed(container)
    ops = console_ops_scenario.seed(container, scenario)
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, container, scenario, ops, home


def _sign_in(page, username: str) -> None:
    from custodes.lab.console_scenario import PASSWORD

    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/caseload")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--port", type=int, default=18520)
    args = ap.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)", file=sys.stderr)
        return 2
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    from custodes.console.web import local

    args.out.mkdir(parents=True, exist_ok=True)
    server, container, scenario, ops, home = _serve(args.port)
    now, tz = container.clock.now(), container.settings.console_time_zone
    window = urlencode({"from": local(now - timedelta(days=7), tz, "%Y-%m-%dT%H:%M"),
                        "to": local(now, tz, "%Y-%m-%dT%H:%M"), "purpose": "case_review",
                        "detail": "quarterly review"})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            for user, shots in (("casey", [("caseload", "/caseload", None),
                                           ("subject", f"/subjects/{scenario.subject_id}?{window}", "map"),
                                           ("alerts", "/alerts", None)]),
                                ("riley", [("review", f"/review/{ops.adverse_item_id}", "faces")])):
                context = browser.new_context(base_url=f"http://127.0.0.1:{args.port}",
                                              viewport={"width": 1280, "height": 800}, bypass_csp=True)
                page = context.new_page()
                _sign_in(page, user)
                for name, path, wait in shots:
                    # The subject page is shown down to its map; the others whole.
                    page.set_viewport_size({"width": 1280, "height": 1450 if name == "subject" else 800})
                    page.goto(path)
                    if wait == "map":
                        page.wait_for_function("() => window.custodesTrail !== undefined", timeout=30_000)
                    if wait == "faces":
                        page.wait_for_function("() => [...document.querySelectorAll('.faces img')]"
                                               ".every(i => i.complete && i.naturalWidth > 0)")
                    page.wait_for_timeout(300)
                    target = args.out / f"{name}.png"
                    page.screenshot(path=str(target), full_page=name != "subject")
                    print(f"saved {target}")
                context.close()
            browser.close()
    finally:
        server.should_exit = True
        container.close()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
