"""`custodes simulate`: a population of devices against a running platform, then what it sent, what
the platform raised, and the planted alerts against the raised ones, kind by kind."""

from __future__ import annotations

import heapq
import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from custodes.lab.device_client import DeviceClient, encode
from custodes.lab.field import plan as planning
from custodes.lab.field.device import SimDevice
from custodes.lab.field.faces import FaceBank, jpeg
from custodes.lab.field.platform import MqttSender, Platform, PlatformError, SimClock
from custodes.lab.field.summary import TICK_REAL_S, by_reason, compare, print_summary
from custodes.lab.field.throughput import Sends, measure, processed_times, silence_evidence
from custodes.lab.field.trails import load_people

CHECK_IN_POLICY = {"kind": "check_in_policy", "prompts_per_day": 3, "waking_start": "08:00", "waking_end": "21:00",
                   "quiet_hours": [], "response_minutes": 15}
SETUP_THREADS = 4
SETUP_REAL_S_PER_SUBJECT = 1.0  # enrolment allowance per person (measured: 0.85 s at load average 4-5)


def setup(platform: Platform, devices_out: list[SimDevice], plans, start: datetime, hours: float,
          faces: FaceBank, rng: np.random.Generator, progress: Progress, share_with: tuple[str, ...] = (),
          policy: dict | None = None) -> None:
    task = progress.add_task("enrolling", total=len(plans))
    # Each person's draws come from a seed taken in order, so parallel enrolment plants the same day.
    seeds = [int(x) for x in rng.integers(2**32, size=len(plans))]
    made: dict[int, SimDevice] = {}

    def enrol(i: int) -> None:
        plan, rng = plans[i], np.random.default_rng(seeds[i])
        p = plan.person
        watch = bool(faces) and i % 2 == 0
        subject = platform.must("POST", "/v1/subjects", json={
            "full_name": f"Simulated {i:04d} ({p.name})", "date_of_birth": "1990-01-01", "nationality": "CN"
            if not p.synthetic else "GB", "preferred_language": "en", "time_zone": p.tz})
        order = platform.must("POST", f"/v1/subjects/{subject['id']}/orders", json={
            "legal_basis": "Immigration Act 2016, Schedule 10 (field simulation)",
            "starts_at": (start - timedelta(days=1)).isoformat(), "ends_at": (start + timedelta(hours=hours, days=30)).isoformat(),
            "status": "active", "less_intrusive_options": [{"option": "reporting", "reason_rejected": "simulation"}],
            "necessity": {"necessity": "field simulation of a monitored population",
                          "proportionality": "night curfew at home and one exclusion zone only",
                          "vulnerability_and_health": "simulated person: none recorded"}})
        local_day = start.astimezone(planning.ZoneInfo(p.tz)).date() - timedelta(days=1)
        specs = [
            {"kind": "zone", "name": "home", "zone_type": "inclusion",
             "circle": {"lat": plan.home[0], "lon": plan.home[1], "radius_m": planning.HOME_RADIUS_M}},
            {"kind": "zone", "name": "exclusion", "zone_type": "exclusion",
             "circle": {"lat": plan.exclusion[0], "lon": plan.exclusion[1], "radius_m": planning.EXCLUSION_RADIUS_M}},
            {"kind": "curfew", "rrule": "FREQ=DAILY", "start_local": f"{local_day}T{planning.CURFEW_START_H:02d}:00:00",
             "duration_minutes": planning.CURFEW_HOURS * 60, "zone_name": "home"},
        ] + ([policy or CHECK_IN_POLICY] if watch else [])
        for agency_id in share_with:  # e.g. the monitoring centre, whose reviewers work the queues
            platform.must("POST", f"/v1/subjects/{subject['id']}/shares", json={"agency_id": agency_id})
        for spec in specs:
            platform.must("POST", f"/v1/orders/{order['id']}/conditions", json={"spec": spec})
        tag = f"{i:05d}{rng.integers(1e6):06d}"
        device = platform.must("POST", "/v1/devices", json={
            "kind": "smartwatch" if watch else "ankle_tag", "serial": f"SIM-{tag}", "barcode": f"77{tag}"})
        platform.must("POST", f"/v1/devices/{device['id']}/assignments", json={
            "subject_id": subject["id"], "starts_at": (start - timedelta(hours=1)).isoformat()})
        identity, enrolled = enrol_face(platform, subject["id"], faces, i) if watch else (None, [])
        made[i] = (SimDevice(plan, device["id"], device["secret"], "smartwatch" if watch else "ankle_tag",
                                     float(rng.uniform(60, 300)), np.random.default_rng(rng.integers(2**32)),
                                     subject_id=subject["id"], identity=identity, enrolled=enrolled))
        progress.advance(task)

    # Enrolment is round trips, mostly waiting on the server: a few at a time (0.85 s a person alone).
    with ThreadPoolExecutor(max_workers=SETUP_THREADS) as pool:
        list(pool.map(enrol, range(len(plans))))
    devices_out += [made[i] for i in range(len(plans))]


def enrol_face(platform: Platform, subject_id: str, faces: FaceBank, i: int) -> tuple[int, list[Path]]:
    """Three reference photos of one LFW person, skipping photos the quality gate refuses (some LFW
    photos hold a second face); the next person if one runs out of usable photos."""
    for identity in range(i, i + 20):
        candidates, chosen = list(faces.identity(identity)), []
        while candidates:
            chosen += [candidates.pop(0) for _ in range(min(3 - len(chosen), len(candidates)))]
            if len(chosen) < 3:
                break
            r = platform.officer("POST", f"/v1/subjects/{subject_id}/face/enrolments",
                                 files=[("photos", (f"p{k}.jpg", jpeg(p), "image/jpeg")) for k, p in enumerate(chosen)])
            if r.status_code < 300:
                return identity, chosen
            bad = {e.get("field") for e in r.json().get("errors") or []}
            kept = [p for k, p in enumerate(chosen) if f"photos[{k}]" not in bad]
            if len(kept) == len(chosen):
                raise PlatformError(f"face enrolment refused: {r.text[:300]}")
            chosen = kept
    raise PlatformError("no LFW person with three usable photos near index {i}")


class CheckIns:
    """Answers to prompts, by the planted rates: the enrolled person, someone else, a print, late, none."""

    def __init__(self, platform: Platform, faces: FaceBank, rates: planning.Rates, rng: np.random.Generator) -> None:
        self.platform, self.faces, self.rates, self.rng = platform, faces, rates, rng
        self.queue: list[tuple[float, int, str, SimDevice, dict]] = []
        self.answers: Counter[str] = Counter()
        self.decisions: Counter[tuple[str, str]] = Counter()
        self.expected_missed: list[tuple[str, float]] = []  # (subject id, deadline)
        self.outcomes: dict[str, str] = {}  # prompt id → "how, when sent: outcome" of the answer
        self.sent: Counter[str] = Counter()  # answers by when they went out against their deadline
        self._n = 0

    def poll(self, d: SimDevice, now: datetime) -> None:
        r = self.platform.device_call(d.device_id, d.secret, "GET", "/pending", now)
        prompt = r.json().get("prompt") if r.status_code == 200 else None
        if not prompt or prompt["prompt_id"] in d.prompts_seen:
            return
        d.prompts_seen.add(prompt["prompt_id"])
        deadline = datetime.fromisoformat(prompt["deadline"].replace("Z", "+00:00")).timestamp()
        x, r_ = self.rng.random(), self.rates
        how = ("genuine" if x < r_.genuine else "impostor" if x < r_.genuine + r_.impostor else
               "attack" if x < r_.genuine + r_.impostor + r_.attack else
               "late" if x < r_.genuine + r_.impostor + r_.attack + r_.late else "none")
        self.answers[how] += 1
        if how in ("late", "none"):
            self.expected_missed.append((d.subject_id, deadline))
        if how == "none":
            return
        left = deadline - now.timestamp()
        at = deadline + 120 if how == "late" else now.timestamp() + self.rng.uniform(0.1, 0.6) * max(left, 1)
        self._n += 1
        heapq.heappush(self.queue, (at, self._n, how, d, prompt))

    def due(self, now: float) -> list[tuple[str, SimDevice, dict]]:
        out = []
        while self.queue and self.queue[0][0] <= now:
            _, _, how, d, prompt = heapq.heappop(self.queue)
            out.append((how, d, prompt))
        return out

    def answer(self, how: str, d: SimDevice, prompt: dict, clock) -> None:
        photos = (self.faces.genuine(d.identity, d.enrolled, self.rng) if how in ("genuine", "late") else
                  self.faces.impostor(d.identity, self.rng) if how == "impostor" else self.faces.attack(self.rng))
        if not photos:
            return
        now = clock.now()  # when it is sent: a loop that runs behind sends it later than planned
        deadline = datetime.fromisoformat(prompt["deadline"].replace("Z", "+00:00"))
        sent = ("sent after its deadline: the simulator was running behind" if now > deadline and how != "late"
                else "sent in time" if how != "late" else "sent late as planned")
        r = self.platform.device_call(d.device_id, d.secret, "POST", f"/{prompt['prompt_id']}", now,
                                      [("photo", photos[0]), ("frames", photos[1])])
        body = r.json() if r.headers.get("content-type", "").startswith("application/") else {}
        # A refusal keeps its problem detail ("409: the response window for this prompt has closed"),
        # so the summary's reason for the check_in_missed that follows says which refusal it was.
        outcome = str(body.get("outcome") or (f"{r.status_code}: {body['detail']}" if body.get("detail")
                                              else r.status_code))
        self.decisions[(how, outcome)] += 1
        self.sent[sent] += 1
        self.outcomes[prompt["prompt_id"]] = f"{how}, {sent}: {outcome}"


def run(*, url: str, subjects: int, hours: float, speed: float, via: str, seed: int, username: str,
        password: str, data: Path, json_path: Path | None, mqtt_host: str = "127.0.0.1", mqtt_port: int = 1883,
        rates: planning.Rates | None = None, settle_s: float | None = None, console: Console | None = None,
        share_with: tuple[str, ...] = (), policy: dict | None = None, db_url: str | None = None,
        setup_allowance_s: float = SETUP_REAL_S_PER_SUBJECT) -> dict:
    console = console or Console(stderr=True)
    rates = rates or planning.Rates()
    platform = Platform(url, username, password)
    health = platform.health()
    if abs(float(health.get("clock_speed", 1.0)) - speed) > 1e-9:
        raise PlatformError(f"the platform runs at {health.get('clock_speed', 1.0):g}x real time; start it with "
                            f"`custodes serve --speed {speed:g}` (or simulate with --speed "
                            f"{health.get('clock_speed', 1.0):g})")
    clock = SimClock(datetime.fromisoformat(health["time"]), speed)
    rng = np.random.default_rng(seed)
    people = load_people(data, max(subjects, 1), rng)
    faces = FaceBank(data)
    # The simulated day starts once everyone is enrolled: enrolment takes real seconds, which are
    # simulated hours at high speeds, and a day begun before it would open with hours of buffered
    # fixes in every first upload (and a throughput figure measured on that burst).
    start = clock.now() + timedelta(seconds=subjects * setup_allowance_s * speed)
    plans = [planning.build(people[i % len(people)], start, hours, np.random.default_rng([seed, i]), rates)
             for i in range(subjects)]
    devices: list[SimDevice] = []
    sender = MqttSender(mqtt_host, mqtt_port) if via == "mqtt" else None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    sent = Counter()
    sends = Sends()
    t_real0 = time.monotonic()
    with Progress(*columns, console=console) as progress:
        setup(platform, devices, plans, start, hours, faces, rng, progress, share_with, policy)
        setup_real_s = time.monotonic() - t_real0
        if clock.now() < start:
            clock.sleep_sim((start - clock.now()).total_seconds())
        elif setup_allowance_s:  # enrolment overran its allowance: the first uploads carry the fixes buffered since
            console.print(f"[yellow]enrolment took {setup_real_s:.0f} s, longer than allowed; the first uploads "
                          f"carry {(clock.now() - start).total_seconds() / 60:.0f} simulated minutes of buffered fixes[/]")
        checkins = CheckIns(platform, faces, rates, np.random.default_rng([seed, 10**6]))
        end = start.timestamp() + hours * 3600
        task = progress.add_task(f"simulating {hours:g} h at {speed:g}x", total=int(hours * 3600))

        def upload(d: SimDevice, now: datetime) -> None:
            items = d.take(now.timestamp())
            if items is not None:
                d.seq += 1
                body = encode(d.seq, items)
                n_fixes = sum(1 for it in items if it["kind"] == "fix")
                try:
                    t_sent = clock.now()
                    if sender is not None:  # returns at the broker's PUBACK: accepted
                        sender.upload(DeviceClient(d.device_id, d.secret), body, t_sent)
                        ok = True
                    else:
                        r = platform.upload(DeviceClient(d.device_id, d.secret), body, t_sent)
                        ok = r.status_code == 202
                        if not ok:
                            d.errors += 1
                            sent[f"upload {r.status_code}"] += 1
                    if ok:
                        sends.add(d.device_id, d.seq, t_sent.timestamp(), clock.now().timestamp(), n_fixes)
                    d.uploads += 1
                    d.sent_fixes += n_fixes
                except Exception as exc:  # counted, the run goes on
                    d.errors += 1
                    sent[f"upload error {type(exc).__name__}"] += 1
            if d.kind == "smartwatch" and not d._in(d.plan.silent, now.timestamp()):
                try:
                    checkins.poll(d, clock.now())
                except Exception:
                    sent["prompt poll error"] += 1

        loads, next_load = [os.getloadavg()[0]], 0.0
        with ThreadPoolExecutor(max_workers=min(32, max(4, subjects // 20))) as pool:
            while (now := clock.now()).timestamp() < end:
                due = [d for d in devices if d.due(now.timestamp())]
                list(pool.map(lambda d: upload(d, now), due))
                for how, d, prompt in checkins.due(now.timestamp()):
                    pool.submit(checkins.answer, how, d, prompt, clock)
                progress.update(task, completed=min(int(now.timestamp() - start.timestamp()), int(hours * 3600)))
                if time.monotonic() >= next_load:  # the machine is shared: the load goes with every figure
                    loads.append(os.getloadavg()[0])
                    next_load = time.monotonic() + 10
                time.sleep(0.05)
            for d in devices:  # the last buffered fixes
                d.next_upload = 0
                d.plan.gaps.clear()
                d.plan.silent.clear()
                upload(d, datetime.fromtimestamp(end, UTC))
        # Let the platform's ticks and check-in sweep pass the end of the window.
        settle = settle_s if settle_s is not None else 2.5 * TICK_REAL_S + 60.0 + 2 * 900 / speed
        progress.add_task(f"settling {settle:.0f} s (ticks, sweep)", total=None)
        time.sleep(settle)
    if sender is not None:
        sender.close()
    result = compare(platform, devices, checkins, speed, end)
    if db_url:
        if silence_evidence(db_url, result["extra"]):
            result["extra_by_reason"] = by_reason(result["extra"])
        result["throughput"] = measure(sends, processed_times(db_url, [d.device_id for d in devices]), speed)
    result.update({"platform": url, "via": via, "subjects": subjects, "hours": hours, "speed": speed, "seed": seed,
                   "trails": "synthetic" if people[0].synthetic else "geolife", "real_seconds": round(time.monotonic() - t_real0, 1),
                   "setup_real_seconds": round(setup_real_s, 1),
                   # When the platform accepts uploads slower than the devices offer them, the loop
                   # falls behind and each device uploads less often, with more fixes each time.
                   "upload_interval_s": {"planned_mean": round(float(np.mean([d.upload_every_s for d in devices])), 1),
                                         "achieved_mean": round(hours * 3600 * len(devices) /
                                                                max(1, sum(d.uploads for d in devices)), 1),
                                         "accepted_p99_real_s": sends.accepted_p99(speed)},
                   "sent": {"fixes": sum(d.sent_fixes for d in devices), "uploads": sum(d.uploads for d in devices),
                            "late_uploads": sum(d.late_uploads for d in devices),
                            "upload_errors": sum(d.errors for d in devices), **dict(sent)},
                   "check_ins": {"answers": dict(checkins.answers), "answers_sent": dict(checkins.sent),
                                 "decisions": {f"{a}:{b}": n for (a, b), n in checkins.decisions.items()}},
                   "load_average_1m": {"start": round(loads[0], 2), "max": round(max(loads), 2),
                                       "mean": round(sum(loads) / len(loads), 2), "end": round(os.getloadavg()[0], 2)}})
    print_summary(console, result)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2, default=str))
    return result
