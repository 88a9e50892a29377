"""`custodes demo` comes alive: its simulated population raises a first alert within 60 s of serving."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from custodes.access.security import DEMO_PASSWORD
from custodes.lab.broker import free_port

BOUND_S = 60.0


def test_the_demo_shows_a_first_alert_within_a_minute_of_serving(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODES_") or k == "CUSTODES_DATA"}
    code = ("from custodes.cli.main import app; "
            f"app(['demo', '--no-browser', '--home', {str(tmp_path)!r}, '--port', '{port}'])")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=5) as http:
            deadline = time.monotonic() + 120  # seeding and start-up, before the clock of the bound starts
            while True:
                assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-2000:]
                assert time.monotonic() < deadline, "the demo did not start serving"
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            serving = time.monotonic()
            total = 0
            while total == 0 and time.monotonic() - serving < BOUND_S:
                time.sleep(1)
                # Signed in afresh each time: tokens last simulated minutes. Riley is the monitoring centre.
                token = http.post("/v1/auth/token", data={"username": "riley", "password": DEMO_PASSWORD})
                r = http.get("/v1/alerts", params={"limit": 1},
                             headers={"Authorization": f"Bearer {token.json()['access_token']}"})
                assert r.status_code == 200, r.text
                total = r.json()["total"]
            elapsed = time.monotonic() - serving
            assert total > 0, f"no alert within {BOUND_S:.0f} s of serving"
            print(f"first alert {elapsed:.1f} s after serving")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
