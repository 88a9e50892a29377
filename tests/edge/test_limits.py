"""Bounded requests: bodies capped per route kind before authentication, slow bodies and slow
headers cut off, per-device upload rates (a real uvicorn server where the socket matters)."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

from custodes.edge.limits import OFFICER, TELEMETRY, ReadLimits
from custodes.lab.device_client import encode, fix
from custodes.lab.population import enrol

PROBLEM = "application/problem+json"


def _status(sock: socket.socket, timeout: float = 30) -> tuple[int, bytes]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return (int(data.split(b" ", 2)[1]) if data else 0), data


def test_a_300_mb_unsigned_upload_is_refused_at_once(live_server):
    host, port = live_server
    path = f"/v1/devices/{uuid.uuid4()}/telemetry"
    with socket.create_connection((host, port)) as sock:
        started = time.monotonic()
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {300 * 1024 * 1024}\r\n\r\n".encode() + b"[" * 65536)
        status, head = _status(sock)
        assert status == 413 and b"application/problem+json" in head
        assert time.monotonic() - started < 2
    # Without a length (chunked), reading stops as soon as the cap is passed.
    with socket.create_connection((host, port)) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"x" * (1024 * 1024)
        sent, status = 0, 0
        try:
            while sent < 20 * TELEMETRY.max_bytes:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _ = _status(sock)
        assert status == 413 and sent <= TELEMETRY.max_bytes + 16 * len(chunk)


def test_officer_bodies_are_capped_before_sign_in(client):
    zone = {"spec": {"kind": "zone", "name": "huge", "zone_type": "exclusion", "geometry": {
        "type": "Polygon", "coordinates": [[[0.0, 0.0]] * 1_000_000]}}}
    r = client.post(f"/v1/orders/{uuid.uuid4()}/conditions", json=zone)  # no token at all
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    assert str(OFFICER.max_bytes) in r.json()["detail"]


def test_a_client_sending_a_byte_every_half_second_is_cut_off(live_server):
    host, port = live_server
    with socket.create_connection((host, port)) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /v1/subjects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n")
        sock.settimeout(0.5)
        head = b""
        while time.monotonic() - started < 40:
            try:
                sock.sendall(b" ")
                head += sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if b"\r\n\r\n" in head:
                break
        elapsed = time.monotonic() - started
    assert head.split(b" ", 2)[1] == b"408", head
    default = ReadLimits()
    assert 9 <= elapsed <= default.grace_s + 1000 / default.min_rate + 5, elapsed


def test_headers_that_never_end_are_cut_off(live_server):
    host, port = live_server
    with socket.create_connection((host, port)) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(0.5)
        closed = False
        while time.monotonic() - started < 15:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
    assert closed and time.monotonic() - started < 6  # the test server's head deadline is 2 s


def test_device_uploads_are_rate_limited_per_device(client, container, agencies):
    since = datetime(2027, 1, 1, tzinfo=UTC)
    a = enrol(container, agencies["home_office"], home=(51.5, -0.12), since=since, until=since + timedelta(days=300))
    b = enrol(container, agencies["home_office"], home=(51.5, -0.12), since=since, until=since + timedelta(days=300))
    burst = container.settings.device_burst

    def upload(person, seq):
        body = encode(seq, [fix(container.clock.now() - timedelta(minutes=1), 51.5, -0.12, 10)])
        return client.post(person.client.path, content=body, headers=person.client.http_headers(
            body, container.clock.now()))

    answers = [upload(a, seq).status_code for seq in range(burst + 1)]
    assert answers[:burst] == [202] * burst and answers[-1] == 429
    refused = upload(a, burst + 1)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert upload(b, 0).status_code == 202  # another device is not held back
    container.clock.advance(timedelta(seconds=int(refused.headers["retry-after"])))
    assert upload(a, burst + 2).status_code == 202
