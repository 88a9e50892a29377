"""`custodes bench checkin-lock`: do concurrent check-ins delay telemetry uploads on SQLite?

On SQLite every transaction takes the only write lock. A check-in that kept its transaction open
through decoding, embedding and liveness (the old ordering) made every upload wait behind it. The
benchmark stores uploads (the same `telemetry.service.ingest` the routes call) one after another
and times each, alone and while N threads submit check-ins with real LFW faces, once with the
old ordering (one unit of work around the face work, rebuilt here from the same pieces) and once
with the new one (`checkins.submission.submit`).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from custodes.lab.checkin_api_bench import PEOPLE, PROBE, TURNED, _setup, frame_of

ORDERINGS = ("old", "new")


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 1), "mean_ms": round(statistics.fmean(ordered) * 1000, 1)}


def _submit_old_ordering(container, actor, keys, device_id, prompt_id, photo, frames, engine):
    """The ordering before the fix: the prompt locked first, the face work inside the transaction."""
    from custodes.checkins import submission as s
    from custodes.checkins.decision import Evidence, decide, repeated_failure_to_acquire
    from custodes.checkins.enrolment import active_enrolment
    from custodes.checkins.upload import CleanPhoto, decode_upload

    with container.uow(actor) as uow:
        prompt = s._open_prompt(uow, device_id, prompt_id, lock=True)
        s.consecutive_failures(uow=uow, subject_id=prompt.subject_id, limit=10)
        rgb = decode_upload(photo, "photo")
        frame_rgbs = [decode_upload(f, "frames") for f in frames]
        faces0 = engine.detect(rgb)
        report = engine.assess(rgb, faces0)
        enrolment = active_enrolment(uow=uow, subject_id=prompt.subject_id)
        snap = s._Prompt(prompt.id, prompt.subject_id, dict(prompt.challenge), enrolment.id if enrolment else None)
        evidence = Evidence(model_version=engine.version, quality=report.as_dict(), quality_passed=report.passed,
                            quality_reason=report.reason)
        if report.passed:
            template = s._read_template(uow, keys, enrolment.id) if enrolment else None
            evidence = s._evaluate(engine, snap, template, rgb, faces0, report, frame_rgbs)
        decision = decide(evidence)
        if decision.failure_to_acquire and prompt.failures_to_acquire + 1 >= s.MAX_FAILURES_TO_ACQUIRE:
            decision = repeated_failure_to_acquire(evidence)
        answer = s._record(uow, prompt, device_id, snap.enrolment_id, keys, CleanPhoto.from_pixels(rgb), decision)
        uow.commit()
    return answer


def _prompts(container, subject_id, order_id, count, now):
    """`count` open prompts for one subject, each with a right-turn challenge (the photos turn right)."""
    from custodes.actor import Actor
    from custodes.biometrics.liveness import Challenge, ChallengeKind
    from custodes.checkins.models import CheckInPrompt

    ids = []
    with container.uow(Actor.system("bench")) as uow:
        for i in range(count):
            opens = now - timedelta(minutes=5, seconds=i)  # distinct per subject (unique with opens_at)
            p = CheckInPrompt(id=uuid.uuid4(), subject_id=subject_id, order_id=order_id, day=opens.date(),
                              opens_at=opens, closes_at=now + timedelta(hours=6), status="pending",
                              challenge=Challenge(ChallengeKind.TURN_RIGHT, uuid.uuid4().hex).as_dict())
            uow.session.add(p)
            ids.append(p.id)
        uow.commit()
    return ids


def run(uploads: int = 150, checkins: int = 4, interval_s: float = 0.02, progress=None,
        prompts_each: int = 150, budget_s: float = 60.0) -> dict:
    from fastapi.testclient import TestClient

    from custodes.actor import Actor
    from custodes.app import create_app
    from custodes.biometrics import get_engine
    from custodes.biometrics.image_input import encode_jpeg
    from custodes.bootstrap import bootstrap
    from custodes.checkins import submission
    from custodes.checkins.face_store import face_keys
    from custodes.clock import FrozenClock
    from custodes.config import Settings, data_root
    from custodes.db import migrate
    from custodes.lab import device_client
    from custodes.telemetry import service as telemetry

    images = data_root() / "faces" / "lfw-view1" / "images"
    if not (images / PROBE).exists():
        raise typer.BadParameter(f"LFW View 1 is needed for this benchmark: {images} is missing")
    jpeg = {name: encode_jpeg(frame_of(images, name)) for name in [*PEOPLE, PROBE, TURNED]}
    home = Path(tempfile.mkdtemp(prefix="custodes-bench-lock-"))
    url = f"sqlite:///{home / 'custodes.db'}"
    migrate.upgrade(url)
    now = datetime(2027, 1, 15, 10, tzinfo=UTC)
    clock = FrozenClock(now)
    engine = get_engine()
    container = bootstrap(Settings(home=home, database_url=url), clock)
    watches = []
    with TestClient(create_app(container)) as client:
        h, subject, tag = _setup(client, clock)  # the tag's subject uploads telemetry
        for i in range(checkins):
            s = client.post("/v1/subjects", json={"full_name": f"Check-in {i}", "date_of_birth": "1990-01-01",
                                                  "nationality": "GB", "preferred_language": "en",
                                                  "time_zone": "Europe/London"}, headers=h).json()
            o = client.post(f"/v1/subjects/{s['id']}/orders", json={
                "legal_basis": "Immigration Act 2016, Schedule 10", "starts_at": "2027-01-01T00:00:00Z",
                "ends_at": "2028-01-01T00:00:00Z", "status": "active",
                "less_intrusive_options": [{"option": "weekly reporting", "reason_rejected": "benchmark"}]},
                headers=h).json()
            d = client.post("/v1/devices", json={"kind": "smartwatch", "serial": f"BENCH-W{i}",
                                                 "barcode": f"9100000{i}"}, headers=h).json()
            client.post(f"/v1/devices/{d['id']}/assignments", json={"subject_id": s["id"],
                                                                    "starts_at": "2027-01-01T00:00:00Z"}, headers=h)
            r = client.post(f"/v1/subjects/{s['id']}/face/enrolments",
                            files=[("photos", (n, jpeg[n], "image/jpeg")) for n in PEOPLE], headers=h)
            r.raise_for_status()
            watches.append((uuid.UUID(s["id"]), uuid.UUID(o["id"]), uuid.UUID(d["id"])))
    keys = face_keys(container)
    tag_id = uuid.UUID(tag["id"])
    tag_actor = Actor(kind="device", id=str(tag_id), name=None)
    seq = [0]

    def upload_loop(task, failed: list[str]) -> list[float]:
        lat = []
        deadline = time.monotonic() + budget_s
        for _ in range(uploads):
            if time.monotonic() > deadline:  # bounded run: a starved uploader would otherwise take minutes
                break
            seq[0] += 1
            t = now - timedelta(hours=1) + timedelta(seconds=seq[0] * 5)
            body = device_client.encode(seq[0], [device_client.fix(t + timedelta(seconds=k), 51.5 + k * 1e-5,
                                                                   -0.1, 8.0) for k in range(5)])
            t0 = time.perf_counter()
            try:
                telemetry.ingest(container, device_id=tag_id, body=body, ndjson=False, channel="http",
                                 signature="", actor=tag_actor)
            except Exception as exc:  # noqa: BLE001 - e.g. "database is locked" after the 30 s busy wait
                failed.append(f"{type(exc).__name__}: {exc}"[:200])
            lat.append(time.perf_counter() - t0)  # a failed upload counts with the time it took to fail
            if progress is not None:
                progress.advance(task)
            time.sleep(interval_s)
        return lat

    def checkin_loop(ordering, watch, prompts, stop, done, errors):
        subject_id, order_id, device_id = watch
        actor = Actor(kind="device", id=str(device_id), name=None)
        for prompt_id in prompts:
            if stop.is_set():
                break
            try:
                if ordering == "old":
                    _submit_old_ordering(container, actor, keys, device_id, prompt_id, jpeg[PROBE],
                                         [jpeg[TURNED]], engine)
                else:
                    submission.submit(container=container, actor=actor, keys=keys, device_id=device_id,
                                      prompt_id=prompt_id, photo=jpeg[PROBE], frames=[jpeg[TURNED]], engine=engine)
                done[0] += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    results: dict[str, dict] = {}
    scenarios = [("alone", None)] + [(f"with_{checkins}_checkins_{o}_ordering", o) for o in ORDERINGS]
    for n, (name, ordering) in enumerate(scenarios):
        task = progress.add_task(name, total=uploads) if progress is not None else None
        stop, threads, done, errors, failed = threading.Event(), [], [0], [], []
        if ordering is not None:
            # Prompts made beforehand, so the check-in threads do nothing but submit.
            pools = [_prompts(container, w[0], w[1], prompts_each, now - timedelta(hours=n)) for w in watches]
            threads = [threading.Thread(target=checkin_loop, args=(ordering, w, pool, stop, done, errors),
                                        daemon=True) for w, pool in zip(watches, pools, strict=True)]
            for t in threads:
                t.start()
            time.sleep(1.0)  # let the check-ins get going before timing uploads
        started = time.perf_counter()
        lat = upload_loop(task, failed)
        elapsed = time.perf_counter() - started
        stop.set()
        for t in threads:
            t.join(timeout=60)
        results[name] = {"uploads": _percentiles(lat), "upload_failures": len(failed),
                         "upload_failure_examples": failed[:3], "checkins_done": done[0],
                         "checkins_per_s": round(done[0] / elapsed, 2) if ordering else 0,
                         "checkin_errors": errors[:5], "checkin_error_count": len(errors)}
        line = f"{name}: uploads {results[name]['uploads']}, {len(failed)} failed, {done[0]} check-ins"
        progress.console.print(line) if progress is not None else print(line, file=sys.stderr)
    container.close()
    return {"benchmark": "checkin-lock", "database": "sqlite", "uploads_per_scenario": uploads,
            "budget_s_per_scenario": budget_s,
            "upload_interval_s": interval_s, "concurrent_checkins": checkins, "fixes_per_upload": 5,
            "scenarios": results, "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}


def bench_checkin_lock(
    uploads: Annotated[int, typer.Option(help="telemetry uploads timed per scenario")] = 150,
    checkins: Annotated[int, typer.Option(help="concurrent check-in submitters")] = 4,
    interval: Annotated[float, typer.Option(help="seconds between uploads")] = 0.02,
    budget: Annotated[float, typer.Option(help="at most this many seconds of uploads per scenario")] = 60.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the figures to this file")] = None,
) -> None:
    """Telemetry upload latency (p50/p95/p99) on SQLite alone and with concurrent check-ins, old
    ordering (face work inside the transaction) vs new."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        figures = run(uploads=uploads, checkins=checkins, interval_s=interval, progress=progress, budget_s=budget)
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
    table = Table(title=f"telemetry upload latency on SQLite (up to {uploads} uploads or {budget:.0f} s per scenario)")
    for col in ("scenario", "p50 ms", "p95 ms", "p99 ms", "max ms", "failed uploads", "check-ins done", "errors"):
        table.add_column(col)
    for name, r in figures["scenarios"].items():
        u = r["uploads"]
        table.add_row(name, str(u["p50_ms"]), str(u["p95_ms"]), str(u["p99_ms"]), str(u["max_ms"]),
                      str(r["upload_failures"]), str(r["checkins_done"]), str(r["checkin_error_count"]))
    console.print(table)
    typer.echo(json.dumps(figures, indent=2))
