"""Bounded requests: every body is capped and timed before authentication, as ASGI middleware.

The body is read here, counted and never hashed, and handed to the route only once it is complete:
a Content-Length over the cap is refused at once (413) without reading a byte, a stream that goes
over is cut off as soon as it does, and a client that sends slower than a minimum rate is answered
408. Both answers close the connection, so the rest of a refused body is never read.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custodes.biometrics.image_input import MAX_UPLOAD_BYTES
from custodes.errors import problem

KIB, MIB = 1024, 1024 * 1024
MULTIPART_SLACK = 64 * KIB  # boundaries and part headers


@dataclass(frozen=True)
class RouteKind:
    name: str
    max_bytes: int
    device: bool = False  # bodies are stored as received (raw evidence); only the device's own parser reads them


TELEMETRY = RouteKind("device telemetry", 4 * MIB, device=True)
# A check-in carries the photo and up to 8 challenge frames (checkins/upload.py MAX_FRAMES).
CHECK_IN = RouteKind("device check-in", 9 * MAX_UPLOAD_BYTES + MULTIPART_SLACK, device=True)
DEVICE = RouteKind("device request", 16 * KIB, device=True)
ENROLMENT = RouteKind("face enrolment", 5 * MAX_UPLOAD_BYTES + MULTIPART_SLACK)  # MAX_REFERENCE_PHOTOS
SIGN_IN = RouteKind("sign-in form", 8 * KIB)
OFFICER = RouteKind("officer JSON", 256 * KIB)
# The monitored person's representation: free text and one attachment (subject_access/voice.py).
REPRESENTATION = RouteKind("representation", 5 * MIB + 64 * KIB + MULTIPART_SLACK)

_ROUTES = [
    (re.compile(r"^/v1/devices/[^/]+/telemetry/?$"), TELEMETRY),
    (re.compile(r"^/v1/devices/[^/]+/checkins/[^/]+/?$"), CHECK_IN),
    (re.compile(r"^/v1/devices/[^/]+/(ping|checkins/pending)/?$"), DEVICE),
    (re.compile(r"^/v1/subjects/[^/]+/face/enrolments/?$"), ENROLMENT),
    (re.compile(r"^/v1/auth/token/?$"), SIGN_IN),
    (re.compile(r"^/v1/my/token/?$"), SIGN_IN),
    (re.compile(r"^/v1/my/representations/?$"), REPRESENTATION),
    (re.compile(r"^/my/representation/?$"), REPRESENTATION),
]


def route_kind(path: str) -> RouteKind:
    for pattern, kind in _ROUTES:
        if pattern.match(path):
            return kind
    return OFFICER


@dataclass(frozen=True)
class ReadLimits:
    """How slow a body may come: `grace_s` to start, then on average at least `min_rate` bytes a
    second, and never silent for longer than `idle_s`."""

    grace_s: float = 10.0
    min_rate: float = 16 * KIB
    idle_s: float = 10.0


# A NUL can only be written in JSON as \u0000 after an odd number of backslashes, in a form or
# query string as %00. Databases refuse it in text (PostgreSQL) or cut strings at it (C APIs).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_URL_NUL = re.compile(rb"%00|\x00")


class Refused(Exception):
    def __init__(self, status: int, title: str, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.kind, self.detail = status, title, kind, detail


class BodyLimits:
    def __init__(self, app: ASGIApp, reads: ReadLimits | None = None) -> None:
        self.app = app
        self.reads = reads or ReadLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = route_kind(scope["path"])
        try:
            _refuse_nul_in_url(scope)
            _refuse_declared_size(scope, kind)
            body, last = await self._read(receive, kind)
            if not kind.device:
                _refuse_nul_in_body(scope, body)
        except Refused as exc:
            closing = {"Connection": "close"} if exc.status in (408, 413) else None
            response = problem(exc.status, exc.title, exc.detail, kind=exc.kind, instance=scope["path"],
                               headers=closing)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, last, receive), send)

    async def _read(self, receive: Receive, kind: RouteKind) -> tuple[bytes, Message]:
        chunks: list[bytes] = []
        size = 0
        start = time.monotonic()
        while True:
            allowed = start + self.reads.grace_s + size / self.reads.min_rate - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, min(allowed, self.reads.idle_s)))
            except TimeoutError:
                raise Refused(408, "Request timeout", "request-timeout",
                              f"the request body came too slowly ({size} bytes in {time.monotonic() - start:.0f} s)"
                              ) from None
            if message["type"] != "http.request":
                return b"".join(chunks), message  # the client went away; the route sees the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > kind.max_bytes:
                raise Refused(413, "Payload too large", "payload-too-large",
                              f"a {kind.name} body is at most {kind.max_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), message


def _refuse_declared_size(scope: Scope, kind: RouteKind) -> None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise Refused(400, "Bad request", "bad-request", "Content-Length is not a number") from None
            if declared > kind.max_bytes:
                raise Refused(413, "Payload too large", "payload-too-large",
                              f"a {kind.name} body is at most {kind.max_bytes} bytes")


def _refuse_nul_in_url(scope: Scope) -> None:
    if _URL_NUL.search(scope.get("raw_path") or scope["path"].encode()) or _URL_NUL.search(scope["query_string"]):
        raise Refused(422, "Invalid input", "validation-error", "the path or query string holds a NUL character")


def _refuse_nul_in_body(scope: Scope, body: bytes) -> None:
    ctype = next((v for k, v in scope["headers"] if k == b"content-type"), b"").split(b";")[0].strip().lower()
    if ctype.endswith(b"json") and _JSON_NUL.search(body):
        raise Refused(422, "Invalid input", "validation-error", "the body holds a NUL character (\\u0000)")
    if ctype == b"application/x-www-form-urlencoded" and _URL_NUL.search(body):
        raise Refused(422, "Invalid input", "validation-error", "the form holds a NUL character (%00)")


def _replay(body: bytes, last: Message, receive: Receive) -> Receive:
    """Give the route the whole body in one message, then pass on what the client does next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if last["type"] != "http.request":
                return last
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
