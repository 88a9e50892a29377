"""The live demo's population: about twenty simulated people started beside `custodes demo`, planted
so that a newcomer sees fixes, alerts and face-review items within the first minute of serving."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from rich.console import Console

from custodes.lab.field import plan as planning
from custodes.lab.field.platform import PlatformError
from custodes.lab.field.simulate import run as simulate

# Planted early and often: most people leave home within ten minutes (a curfew breach at night, an
# exclusion zone on the route by day), and the watches are asked around the clock, so the first
# simulated hour holds something to see whatever the wall-clock time.
DEMO_RATES = planning.Rates(curfew_breach=0.3, exclusion=0.6, strap=0.15, battery=0.1, silent=0.05, gap=0.2,
                            leave_now=0.7)
DEMO_POLICY = {"kind": "check_in_policy", "prompts_per_day": 5, "waking_start": "00:00", "waking_end": "23:59",
               "quiet_hours": [], "response_minutes": 15, "min_gap_minutes": 60}
SHARED_WITH = ("probation", "monitoring_centre")


def start(*, url: str, people: int, hours: float, speed: float, username: str, password: str, data: Path,
          console: Console) -> threading.Thread:
    """Run the population in a daemon thread (it ends with the server) once the server answers."""

    def body() -> None:
        try:
            with httpx.Client(base_url=url, timeout=5) as http:
                for _ in range(600):
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                token = http.post("/v1/auth/token", data={"username": username, "password": password})
                token.raise_for_status()
                agencies = http.get("/v1/agencies", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
                share = tuple(a["id"] for a in agencies.json() if a["kind"] in SHARED_WITH)
            console.print(f"simulating {people} people for {hours:g} h at {speed:g}x real time")
            simulate(url=url, subjects=people, hours=hours, speed=speed, via="http", seed=int(time.time()),
                     username=username, password=password, data=data, json_path=None, rates=DEMO_RATES,
                     settle_s=0, console=console, share_with=share, policy=DEMO_POLICY,
                     setup_allowance_s=0)  # movement at once: the first uploads carry what was buffered
        except (PlatformError, httpx.HTTPError) as exc:  # the server goes on; the newcomer is told why
            console.print(f"[red]the simulated population stopped:[/red] {exc}")

    thread = threading.Thread(target=body, name="demo-population", daemon=True)
    thread.start()
    return thread
