"""`custodes bench console`: seed a console-sized database, serve it with uvicorn in its own process,
and time every page type (p50/p95 per page, measured by a client on 127.0.0.1); then draw a 7-day
trail of about 10,000 fixes in Chromium and time it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import typer

CHROMIUM = "/usr/bin/chromium"
TARGET_P95_MS = 300.0
TARGET_DRAW_MS = 1000.0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, round(q * (len(s) - 1)))], 1)


def _pages(pop, now, tz) -> dict[str, list[str]]:
    from custodes.console.web import local

    def window(days: int) -> str:
        return urlencode({"from": local(now - timedelta(days=days), tz, "%Y-%m-%dT%H:%M"),
                          "to": local(now, tz, "%Y-%m-%dT%H:%M"), "purpose": "case_review",
                          "detail": "bench console"})

    north = [s for i, s in enumerate(pop.subject_ids) if i % 20]
    some = north[:40]
    return {
        "caseload": [f"/caseload?offset={50 * (k % 19)}" for k in range(20)],
        "caseload search": [f"/caseload?q=Nowak {k:02d}" for k in range(20)],
        "subject page": [f"/subjects/{s}" for s in some[:20]],
        "subject page + 1-day trail": [f"/subjects/{s}?{window(1)}" for s in some[20:40]],
        "subject page + 7-day trail (10k fixes)": [f"/subjects/{pop.trail_subject_id}?{window(7)}"] * 10,
        "trail export GPX (7 days)": [f"/subjects/{pop.trail_subject_id}/trail.gpx?{window(7)}"] * 5,
        "device page": [f"/devices/{d}" for i, d in enumerate(pop.device_ids[:21]) if i % 20][:20],
        "alert queue": ["/alerts", "/alerts?show=all", "/alerts?severity=high", "/alerts?age=24h"] * 5,
        "face-review queue": ["/review"] * 20,
        "face-review item": [f"/review/{pop.review_item_ids[k % len(pop.review_item_ids)]}" for k in range(20)],
        "quarterly reviews": ["/order-reviews", "/order-reviews?within=90"] * 10,
        "device inventory": ["/inventory", "/inventory?status=issued"] * 10,
        "scan-to-return preview": [f"/inventory/return?barcode={b}" for i, b in enumerate(pop.barcodes[:21]) if i % 20],
    }


def _wait_up(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz within a minute")


def _draw_trail(base: str, path: str, username: str, password: str, runs: int) -> list[dict]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page = context.new_page()
        page.goto("/sign-in")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/caseload")
        for _ in range(runs):
            page.goto(path)
            page.wait_for_function("() => window.custodesTrail !== undefined", timeout=30_000)
            drawn = page.evaluate("({...window.custodesTrail, sincePageStart: Math.round(performance.now())})")
            out.append(drawn)
        browser.close()
    return out


def run(subjects: int, fixes: int, port: int, samples_scale: float, draw_runs: int, say,
        keep: bool = False) -> dict:
    import httpx

    from custodes.bootstrap import bootstrap
    from custodes.config import Settings
    from custodes.db import migrate
    from custodes.lab import console_population

    home = Path(tempfile.mkdtemp(prefix="custodes-bench-console-"))
    url = f"sqlite:///{home / 'custodes.db'}"
    migrate.upgrade(url)
    settings = Settings.from_env(home=home, database_url=url)
    container = bootstrap(settings)
    started = time.perf_counter()
    pop = console_population.seed(container, subjects=subjects, fixes=fixes,
                                  progress=lambda what, n: say(what, n))
    seed_s = time.perf_counter() - started
    now, tz = container.clock.now(), settings.console_time_zone
    container.close()
    env = {**os.environ, "CUSTODES_HOME": str(home), "CUSTODES_DATABASE_URL": url}
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "custodes.app:create_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--lifespan", "off", "--log-level", "warning"],
                            env=env)
    pages: dict[str, dict] = {}
    try:
        _wait_up(base, proc)
        with httpx.Client(base_url=base, timeout=60) as http:
            form = http.get("/sign-in").text  # the sign-in form carries its CSRF token
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            r = http.post("/sign-in", data={"username": "casey", "password": console_population.PASSWORD,
                                            "csrf_token": token.group(1) if token else ""}, follow_redirects=False)
            if "custodes_session" not in http.cookies:
                raise RuntimeError(f"could not sign in to the bench server ({r.status_code})")
            for name, paths in _pages(pop, now, tz).items():
                say(f"timing {name}", 0)
                http.get(paths[0])  # warm caches once per page type
                times, statuses = [], set()
                for path in paths[:max(1, int(len(paths) * samples_scale))]:
                    t = time.perf_counter()
                    resp = http.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    statuses.add(resp.status_code)
                pages[name] = {"n": len(times), "p50_ms": _pct(times, 0.5), "p95_ms": _pct(times, 0.95),
                               "max_ms": round(max(times), 1), "statuses": sorted(statuses),
                               "meets_target": _pct(times, 0.95) <= TARGET_P95_MS and statuses == {200}}
        draws = []
        if draw_runs and os.access(CHROMIUM, os.X_OK):
            say("drawing the 7-day trail in Chromium", 0)
            window = _pages(pop, now, tz)["subject page + 7-day trail (10k fixes)"][0]
            draws = _draw_trail(base, window, "casey", console_population.PASSWORD, draw_runs)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    draw_ms = [d["drawMs"] for d in draws]
    return {"subjects": subjects, "fixes": pop.fixes, "trail_fixes": draws[0]["fixes"] if draws else None,
            "seed_seconds": round(seed_s, 1), "database": "sqlite", "pages": pages,
            "trail_draw": {"runs": len(draws), "draw_ms": draw_ms, "p50_ms": _pct(draw_ms, 0.5) if draws else None,
                           "page_start_to_drawn_ms": [d["sincePageStart"] for d in draws],
                           "meets_target": bool(draws) and max(draw_ms) < TARGET_DRAW_MS},
            "target_p95_ms": TARGET_P95_MS, "all_pages_meet_target": all(p["meets_target"] for p in pages.values()),
            "load_average_1m": round(os.getloadavg()[0], 2), "home": str(home) if keep else None}


def bench_console(
    subjects: Annotated[int, typer.Option(min=2, help="monitored people to seed")] = 1000,
    fixes: Annotated[int, typer.Option(min=10_080, help="fixes to seed in all (one subject gets a 7-day trail of 10,080)")] = 1_000_000,
    port: Annotated[int, typer.Option(help="port for the bench server on 127.0.0.1")] = 18510,
    samples: Annotated[float, typer.Option(min=0.05, max=1.0, help="share of each page's request list to time")] = 1.0,
    draw_runs: Annotated[int, typer.Option(min=0, help="times to draw the 7-day trail in Chromium (0: skip)")] = 3,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the figures to this file")] = None,
    keep: Annotated[bool, typer.Option(help="keep the seeded database (its folder is printed in the JSON)")] = False,
) -> None:
    """Console page times (p50/p95 per page type) over 1,000 subjects and 1,000,000 fixes, and the
    browser draw time of a 7-day trail."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    err = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as bar:
        task = bar.add_task("seeding", total=fixes)
        try:
            result = run(subjects, fixes, port, samples, draw_runs,
                         lambda what, n: bar.update(task, description=what, advance=n), keep=keep)
        except RuntimeError as exc:
            err.print(f"[red]bench console: {exc}[/red]")
            raise typer.Exit(2) from None
    table = Table(title=f"custodes bench console ({result['subjects']:,} subjects, {result['fixes']:,} fixes)")
    for col in ("page", "n", "p50 ms", "p95 ms", "≤ 300 ms"):
        table.add_column(col, justify="left" if col == "page" else "right")
    for name, p in result["pages"].items():
        table.add_row(name, str(p["n"]), f"{p['p50_ms']:.1f}", f"{p['p95_ms']:.1f}", "yes" if p["meets_target"] else "NO")
    err.print(table)
    d = result["trail_draw"]
    if d["runs"]:
        err.print(f"7-day trail of {result['trail_fixes']:,} fixes drawn in {d['draw_ms']} ms (target < 1,000 ms).")
    err.print(f"seeded in {result['seed_seconds']} s; load average {result['load_average_1m']}.")
    text = json.dumps(result, indent=2)
    if json_path:
        json_path.write_text(text)
    print(text)
