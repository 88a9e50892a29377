"""Device identity: each device signs its requests with its own secret.

Signature = HMAC-SHA256(secret, "v1\\n{METHOD}\\n{path}\\n{timestamp}\\n{nonce}\\n{sha256(body)}"), hex,
sent with the device id, a Unix timestamp and a single-use nonce in headers. Requests more than five
minutes off the server clock, and nonces already seen, are refused.

Telemetry uploads do not write their nonce to the database: a signed batch carries its own sequence
number, and storing it is idempotent (same seq and body: the first answer again; another body: 409),
so a replayed upload can store nothing. Their nonces are remembered in this process only
(`RecentNonces`), which refuses a replay to the same process before it spends the device's rate
allowance; a replay to another API process gets the harmless duplicate answer.

HMAC verification needs the secret itself, so a one-way hash of it could not verify anything. The
secret is therefore stored sealed (AES-GCM) under the server's device key, which lives outside the
database; the database keeps only the sealed blob and a short fingerprint for display. Each process
keeps the secrets it has unsealed in memory until the database says the device changed
(`devices.credentials`), so an upload is authenticated without a database read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from custodes.actor import Actor
from custodes.access.deps import ContainerDep
from custodes.bootstrap import Container
from custodes.devices import credentials
from custodes.devices.credentials import Credential, seal, unseal
from custodes.devices.models import DeviceNonce
from custodes.edge.rates import retry_after
from custodes.errors import Forbidden, TooManyRequests, Unauthorized

__all__ = ["DeviceIdentity", "SignedDevice", "authenticate", "seal", "signature", "signed_headers", "unseal", "verify"]

H_DEVICE, H_TIMESTAMP, H_NONCE, H_SIGNATURE = (
    "X-Custodes-Device", "X-Custodes-Timestamp", "X-Custodes-Nonce", "X-Custodes-Signature")
MAX_SKEW = timedelta(minutes=5)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def signature(secret: str, method: str, path: str, timestamp: int, nonce: str, body: bytes) -> str:
    message = "\n".join(["v1", method.upper(), path, str(timestamp), nonce, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(device_id: uuid.UUID | str, secret: str, method: str, path: str, body: bytes,
                   now: datetime, nonce: str | None = None) -> dict[str, str]:
    """What a device sends (used by the device simulator, the benchmarks and the tests)."""
    ts = int(now.timestamp())
    nonce = nonce or secrets.token_hex(16)
    return {H_DEVICE: str(device_id), H_TIMESTAMP: str(ts), H_NONCE: nonce,
            H_SIGNATURE: signature(secret, method, path, ts, nonce, body)}


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: uuid.UUID
    agency_id: uuid.UUID
    actor: Actor
    # The earliest start of an order of anyone the device has been assigned to, read with the device
    # row in the same statement: fixes older than that have no legal basis to be kept.
    fixes_from: datetime | None = None


@dataclass(frozen=True)
class SignedParts:
    device_id: uuid.UUID
    timestamp: int
    nonce: str
    signature: str


def read_signed_parts(headers: Mapping[str, str], missing: str) -> SignedParts:
    """The signing headers (HTTP headers, or MQTT user properties), or Unauthorized with `missing`."""
    try:
        parts = SignedParts(uuid.UUID(headers[H_DEVICE]), int(headers[H_TIMESTAMP]), headers[H_NONCE],
                            headers[H_SIGNATURE])
    except (KeyError, ValueError):
        raise Unauthorized(missing) from None
    if not 8 <= len(parts.nonce) <= 64:
        raise Unauthorized("nonce must be 8 to 64 characters")
    return parts


def authenticate(container: Container, parts: SignedParts, *, method: str, path: str, body: bytes) -> Credential:
    """The credential of the device whose own secret made this signature, or Unauthorized. Read from
    the process's credential cache; a signature that fails against a remembered secret is checked once
    more against the database (the device may hold a secret rotated since)."""
    creds = credentials.cache(container)
    cred = creds.remembered(parts.device_id)
    if cred is None or not _signed_by(cred, parts, method, path, body):
        cred = creds.load(parts.device_id)  # a first contact, or a secret rotated since: one read
    if cred is None or cred.secret is None:
        raise Unauthorized("unknown device or no secret issued")
    if not _signed_by(cred, parts, method, path, body):
        raise Unauthorized("bad device signature")
    return cred


def _signed_by(cred: Credential, parts: SignedParts, method: str, path: str, body: bytes) -> bool:
    if cred.secret is None:
        return False
    expected = signature(cred.secret, method, path, parts.timestamp, parts.nonce, body)
    return hmac.compare_digest(parts.signature, expected)


class RecentNonces:
    """Nonces of replay-idempotent requests seen by this process in the freshness window."""

    def __init__(self, max_keys: int = 500_000) -> None:
        self._seen: OrderedDict[tuple[uuid.UUID, str], float] = OrderedDict()
        self._lock = threading.Lock()
        self.max_keys = max_keys

    def first_use(self, device_id: uuid.UUID, nonce: str, at: float) -> bool:
        horizon = at - 2 * MAX_SKEW.total_seconds()
        with self._lock:
            while self._seen:  # oldest first: forget what is out of the window
                key, seen = next(iter(self._seen.items()))
                if seen >= horizon and len(self._seen) < self.max_keys:
                    break
                self._seen.popitem(last=False)
            if (device_id, nonce) in self._seen:
                return False
            self._seen[(device_id, nonce)] = at
            return True


RECENT_NONCES = RecentNonces()


def replay_idempotent(endpoint: Callable) -> Callable:
    """Mark a device route whose effect is idempotent by content (telemetry: by signed sequence
    number): `authenticated_device` then spends no database transaction on its nonce."""
    endpoint.replay_idempotent = True  # type: ignore[attr-defined]
    return endpoint


def verify(container: Container, *, method: str, path: str, headers: Mapping[str, str], body: bytes,
           claimed_for: uuid.UUID | None, idempotent: bool = False) -> DeviceIdentity:
    """Authenticate a signed request, consume its nonce (in this process only when the route is
    `idempotent`), and check it is for the device itself."""
    parts = read_signed_parts(
        headers, f"device requests need {H_DEVICE}, {H_TIMESTAMP}, {H_NONCE} and {H_SIGNATURE}")
    device_id, nonce = parts.device_id, parts.nonce
    now = container.clock.now()
    if abs(now.timestamp() - parts.timestamp) > MAX_SKEW.total_seconds():
        raise Unauthorized("request timestamp is more than 5 minutes off the server clock")
    cred = authenticate(container, parts, method=method, path=path, body=body)
    if idempotent:
        if not RECENT_NONCES.first_use(device_id, nonce, now.timestamp()):
            raise Unauthorized("nonce already used: replayed request refused")
    else:
        with container.uow(Actor(kind="device", id=str(device_id), name=None)) as uow:
            uow.session.execute(delete(DeviceNonce).where(DeviceNonce.device_id == device_id,
                                                          DeviceNonce.seen_at < now - 2 * MAX_SKEW))
            uow.session.add(DeviceNonce(id=uuid.uuid4(), device_id=device_id, nonce=nonce, seen_at=now))
            try:
                uow.commit()
            except IntegrityError:
                raise Unauthorized("nonce already used: replayed request refused") from None
    identity = DeviceIdentity(device_id=cred.device_id, agency_id=cred.agency_id,
                              actor=Actor(kind="device", id=str(cred.device_id), name=cred.serial,
                                          agency_id=cred.agency_id),
                              fixes_from=cred.fixes_from)
    if claimed_for is not None and claimed_for != identity.device_id:
        raise Forbidden("a device may act only for itself")
    return identity


async def authenticated_device(request: Request, container: ContainerDep) -> DeviceIdentity:
    body = await request.body()
    claimed = request.path_params.get("device_id")
    try:
        claimed_id = uuid.UUID(str(claimed)) if claimed is not None else None
    except ValueError:
        raise Forbidden("a device may act only for itself") from None
    idempotent = getattr(request.scope.get("endpoint"), "replay_idempotent", False)
    identity = await run_in_threadpool(verify, container, method=request.method, path=request.url.path,
                                       headers=request.headers, body=body, claimed_for=claimed_id,
                                       idempotent=idempotent)
    # Counted only once the signature is good, so nobody can spend another device's allowance.
    wait = container.device_rates.take(str(identity.device_id), container.clock.now())
    if wait > 0:
        raise TooManyRequests(f"this device is over its request rate; try again in {retry_after(wait)} s",
                              retry_after=retry_after(wait))
    return identity


SignedDevice = Annotated[DeviceIdentity, Depends(authenticated_device)]
