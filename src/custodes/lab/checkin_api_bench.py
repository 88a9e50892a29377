"""`custodes bench checkin-api`: a whole check-in through the HTTP API (signature, multipart, safe
decoding, quality, liveness, matching, sealing, audit, commit), against a baseline measured in
the same run: the same photos through the face engine and liveness alone, with no API or storage.

Uses real LFW photos from the data folder (a frontal photo and the same person's head turn).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

# Enrolment takes at least 3 photos; LFW View 1 has two frontal ones of this person besides the
# probe and the turn, so the third reference is a mirror image ("mirror:" prefix).
PEOPLE = ["Bill_Gates/Bill_Gates_0011.jpg", "Bill_Gates/Bill_Gates_0015.jpg", "mirror:Bill_Gates/Bill_Gates_0011.jpg"]
PROBE, TURNED = "Bill_Gates/Bill_Gates_0003.jpg", "Bill_Gates/Bill_Gates_0004.jpg"
POLICY = {"kind": "check_in_policy", "prompts_per_day": 5, "waking_start": "08:00", "waking_end": "21:00",
          "quiet_hours": [], "response_minutes": 15, "min_gap_minutes": 60}
PASSWORD = "correct-horse-battery"


def frame_of(images: Path, name: str):
    """An LFW photo on a 640x480 frame (mirrored for a "mirror:" name)."""
    from custodes.biometrics.image_input import load_rgb, pad_to

    rgb = pad_to(load_rgb(images / name.removeprefix("mirror:")))
    return rgb[:, ::-1].copy() if name.startswith("mirror:") else rgb


def _multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{n}\"; filename=\"f.jpg\"\r\n"
                    f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n" for n, data in files)
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[max(0, int(0.95 * len(ordered)) - 1)] * 1000, 1)}


def _setup(client, clock):
    """An agency, a caseworker, a subject under a check-in policy, a signed watch, an enrolment."""
    from custodes.access import service as access
    from custodes.actor import Actor, Role
    from custodes.access.models import AgencyCreate, UserCreate

    container = client.app.state.container
    with container.uow(Actor.system("bench")) as uow:
        agency = access.create_agency(uow=uow, data=AgencyCreate(name="bench office", kind="home_office"))
        access.create_user(uow=uow, data=UserCreate(username="bench-cw", password=PASSWORD, role=Role.CASEWORKER),
                           agency_id=agency.id)
        uow.commit()
    token = client.post("/v1/auth/token", data={"username": "bench-cw", "password": PASSWORD}).json()
    h = {"Authorization": f"Bearer {token['access_token']}"}
    subject = client.post("/v1/subjects", json={"full_name": "Bench Person", "date_of_birth": "1990-01-01",
                                                "nationality": "GB", "preferred_language": "en",
                                                "time_zone": "Europe/London"}, headers=h).json()
    order = client.post(f"/v1/subjects/{subject['id']}/orders", json={
        "legal_basis": "Immigration Act 2016, Schedule 10", "starts_at": "2027-01-01T00:00:00Z",
        "ends_at": "2028-01-01T00:00:00Z", "status": "active",
        "less_intrusive_options": [{"option": "weekly reporting", "reason_rejected": "benchmark"}],
        "necessity": {"necessity": "benchmark case", "proportionality": "benchmark case",
                      "vulnerability_and_health": "benchmark case: none"}}, headers=h).json()
    client.post(f"/v1/orders/{order['id']}/conditions", json={"spec": POLICY}, headers=h)
    device = client.post("/v1/devices", json={"kind": "smartwatch", "serial": "BENCH-1", "barcode": "90000001"},
                         headers=h).json()
    client.post(f"/v1/devices/{device['id']}/assignments", json={"subject_id": subject["id"],
                                                                 "starts_at": "2027-01-01T00:00:00Z"}, headers=h)
    return h, subject, device


def run(submissions: int = 30) -> dict:
    from fastapi.testclient import TestClient
    from rich.progress import Progress

    from custodes.app import create_app
    from custodes.biometrics import get_engine
    from custodes.biometrics.image_input import (
        decode_image,
        encode_jpeg,
        load_rgb,
        pad_to,
    )
    from custodes.biometrics.liveness import Challenge, assess_liveness
    from custodes.bootstrap import bootstrap
    from custodes.clock import FrozenClock
    from custodes.config import Settings, data_root
    from custodes.db import migrate
    from custodes.devices.signing import signed_headers

    images = data_root() / "faces" / "lfw-view1" / "images"
    if not (images / PROBE).exists():
        raise typer.BadParameter(f"LFW View 1 is needed for this benchmark: {images} is missing")
    jpeg = {name: encode_jpeg(frame_of(images, name)) for name in [*PEOPLE, PROBE, TURNED]}
    mirrored = {name: encode_jpeg(pad_to(load_rgb(images / name))[:, ::-1].copy()) for name in (PROBE, TURNED)}
    home = Path(tempfile.mkdtemp(prefix="custodes-bench-"))
    url = f"sqlite:///{home / 'custodes.db'}"
    migrate.upgrade(url)
    clock = FrozenClock(datetime(2027, 1, 15, 6, tzinfo=UTC))
    t0 = time.perf_counter()
    engine = get_engine()
    load_s = time.perf_counter() - t0
    api, baseline, outcomes = [], [], {}
    with TestClient(create_app(bootstrap(Settings(home=home, database_url=url), clock))) as client:
        h, subject, device = _setup(client, clock)
        r = client.post(f"/v1/subjects/{subject['id']}/face/enrolments",
                        files=[("photos", (n, jpeg[n], "image/jpeg")) for n in PEOPLE], headers=h)
        r.raise_for_status()

        def call(method: str, suffix: str, files=None):
            path = f"/v1/devices/{device['id']}/checkins{suffix}"
            body, kind = _multipart(files) if files else (b"", None)
            headers = signed_headers(device["id"], device["secret"], method, path, body, clock.now())
            if kind:
                headers["Content-Type"] = kind
            return client.request(method, path, content=body or None, headers=headers)

        template = engine.enrol([decode_image(jpeg[n]) for n in PEOPLE])  # the baseline's reference
        with Progress(transient=True) as progress:
            task = progress.add_task("check-ins", total=submissions)
            while len(api) < submissions:
                clock.set(clock.now() + timedelta(minutes=5))
                prompt = call("GET", "/pending").json()["prompt"]
                if prompt is None:
                    continue
                left = prompt["challenge"]["kind"] == "turn_left"  # a mirrored right turn is a left turn
                photo, frame = (mirrored[PROBE], mirrored[TURNED]) if left else (jpeg[PROBE], jpeg[TURNED])
                t = time.perf_counter()
                answer = call("POST", f"/{prompt['prompt_id']}", [("photo", photo), ("frames", frame)]).json()
                api.append(time.perf_counter() - t)
                outcomes[answer.get("reason", "error")] = outcomes.get(answer.get("reason", "error"), 0) + 1
                # Baseline: the same work without the API, storage, sealing or audit.
                t = time.perf_counter()
                rgb, frame_rgb = decode_image(photo), decode_image(frame)
                acq = engine.acquire(rgb)
                assess_liveness([rgb, frame_rgb], Challenge.from_dict(prompt["challenge"]), first_face=acq.face)
                engine.compare(template, acq)
                baseline.append(time.perf_counter() - t)
                clock.set(datetime.fromisoformat(prompt["deadline"].replace("Z", "+00:00")))
                progress.advance(task)
    return {"benchmark": "checkin-api", "database": "sqlite", "submissions": len(api), "frame": "640x480",
            "model_load_s": round(load_s, 2), "api": _ms(api), "baseline_engine_and_liveness_only": _ms(baseline),
            "api_overhead_median_ms": round((statistics.median(api) - statistics.median(baseline)) * 1000, 1),
            "outcomes": outcomes, "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}


def bench_checkin_api(submissions: int = typer.Option(30, help="check-ins to time")) -> None:
    """A whole check-in through the API vs the engine alone; prints JSON."""
    typer.echo(json.dumps(run(submissions), indent=2))
