"""Adapter use cases: enable a device's adapter (credentials shown once), recognise a device by its
adapter credentials, and hand what it sent to the native ingestion as one validated batch."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from custodes.actor import Actor
from custodes.adapters import owntracks
from custodes.adapters.decoding import AdapterInputError, parse_json
from custodes.adapters.models import AdapterEnable, AdapterIssued, AdapterRead, DeviceAdapter
from custodes.bootstrap import Container
from custodes.devices import service as devices
from custodes.devices import signing
from custodes.edge.rates import retry_after
from custodes.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from custodes.telemetry import service as telemetry
from custodes.telemetry.service import IngestResult
from custodes.uow import UnitOfWork


@dataclass(frozen=True)
class AdapterDevice:
    device_id: uuid.UUID
    protocol: str
    payload_key: str | None  # OwnTracks encryption key, when the device encrypts

    @property
    def actor(self) -> Actor:
        return Actor(kind="device", id=str(self.device_id), name=self.protocol)


def digest(container: Container, secret: str) -> str:
    return hmac.new(container.device_key, secret.encode(), hashlib.sha256).hexdigest()


def enable(*, uow: UnitOfWork, container: Container, device_id: uuid.UUID, data: AdapterEnable) -> AdapterIssued:
    """Turn a device's adapter on with fresh credentials (rotating any it had)."""
    device = devices.load(uow=uow, device_id=device_id)
    if data.encrypted and data.protocol != "owntracks":
        raise Invalid.field("encrypted", "only OwnTracks encrypts its payloads")
    now = uow.clock.now()
    row = uow.session.get(DeviceAdapter, device.id)
    if row is None:
        row = DeviceAdapter(device_id=device.id, created_at=now)
        uow.session.add(row)
    row.protocol, row.enabled, row.updated_at = data.protocol, True, now
    row.token_digest = row.username = row.password_digest = row.payload_key_sealed = None
    issued: dict[str, Any] = {}
    if data.protocol == "osmand":
        token = secrets.token_urlsafe(32)
        row.token_digest = digest(container, token)
        issued = {"token": token, "setup": {"device identifier": token,
                                            "server URL": "https://<this server>/v1/adapters/osmand"}}
    else:
        username, password = f"ot-{secrets.token_hex(8)}", secrets.token_urlsafe(32)
        row.username, row.password_digest = username, digest(container, password)
        issued = {"password": password, "setup": {
            "mode": "HTTP: https://<this server>/v1/adapters/owntracks, or MQTT on owntracks/<username>/<device>",
            "username": username}}
        if data.encrypted:
            key = secrets.token_urlsafe(24)  # 32 characters: the whole of secretbox's key
            row.payload_key_sealed = signing.seal(container.device_key, device.id, key)
            issued["encryption_key"] = key
    uow.session.flush()
    return AdapterIssued.model_validate({**AdapterRead.model_validate(read_shape(row)).model_dump(), **issued})


def read_shape(row: DeviceAdapter) -> dict[str, Any]:
    return {"device_id": row.device_id, "protocol": row.protocol, "enabled": row.enabled, "username": row.username,
            "encrypted": row.payload_key_sealed is not None, "created_at": row.created_at,
            "updated_at": row.updated_at}


def load(*, uow: UnitOfWork, device_id: uuid.UUID) -> DeviceAdapter:
    device = devices.load(uow=uow, device_id=device_id)  # scoped to the officer's agency
    row = uow.session.get(DeviceAdapter, device.id)
    if row is None:
        raise NotFound(f"device {device_id} has no adapter")
    return row


def disable(*, uow: UnitOfWork, device_id: uuid.UUID) -> DeviceAdapter:
    row = load(uow=uow, device_id=device_id)
    row.enabled = False
    row.token_digest = row.username = row.password_digest = row.payload_key_sealed = None
    row.updated_at = uow.clock.now()
    return row


def by_token(container: Container, token: str | None) -> AdapterDevice:
    if not token:
        raise Unauthorized("the device identifier (its adapter token) is required")
    with container.uow(Actor.system("adapter-auth")) as uow:
        row = uow.session.scalars(select(DeviceAdapter).where(
            DeviceAdapter.token_digest == digest(container, token), DeviceAdapter.protocol == "osmand",
            DeviceAdapter.enabled.is_(True))).first()
        if row is None:
            raise Unauthorized("unknown or disabled device identifier")
        return AdapterDevice(row.device_id, "osmand", None)


def by_credentials(container: Container, username: str, password: str | None) -> AdapterDevice:
    with container.uow(Actor.system("adapter-auth")) as uow:
        row = uow.session.scalars(select(DeviceAdapter).where(
            DeviceAdapter.username == username, DeviceAdapter.protocol == "owntracks",
            DeviceAdapter.enabled.is_(True))).first()
        if row is None or row.password_digest is None:
            raise Unauthorized("unknown or disabled OwnTracks user")
        # MQTT messages come with no password: the broker authenticated the user for its topic.
        if password is not None and not hmac.compare_digest(row.password_digest, digest(container, password)):
            raise Unauthorized("bad OwnTracks password")
        key = (signing.unseal(container.device_key, row.device_id, row.payload_key_sealed)
               if row.payload_key_sealed is not None else None)
        return AdapterDevice(row.device_id, "owntracks", key)


def native_body(items: list[dict[str, Any]], fallback: datetime, probe: int = 0) -> bytes:
    """The native batch for these items. Its sequence number is the latest item's time in whole
    seconds, with three digits from the content: a resend of the same message is the same batch
    (idempotent), and different messages stamped the same second get different numbers (a clash of
    those digits moves on to the next number, `probe`, the same way every time)."""
    times = [datetime.fromisoformat(i["time"]) for i in items] or [fallback]
    items_json = json.dumps(items, sort_keys=True, separators=(",", ":"))
    digits = (zlib.crc32(items_json.encode()) + probe) % 1000
    seq = max(0, int(max(times).timestamp())) * 1000 + digits
    return json.dumps({"v": 1, "seq": seq, "items": items}, sort_keys=True, separators=(",", ":")).encode()


PROBES = 5


def ingest(container: Container, device: AdapterDevice, items: list[dict[str, Any]], *,
           channel: str) -> IngestResult | None:
    """Store what the device sent as a native batch (validated exactly as a signed upload is)."""
    if not items:
        return None
    # The same per-device allowance as signed uploads, counted once the credentials are good.
    if wait := container.device_rates.take(str(device.device_id), container.clock.now()):
        raise TooManyRequests("this device is sending faster than its allowance", retry_after=retry_after(wait))
    for probe in range(PROBES):
        body = native_body(items, container.clock.now(), probe)
        try:
            return telemetry.ingest(container, device_id=device.device_id, body=body, ndjson=False,
                                    channel=channel, signature=f"{channel}-adapter", actor=device.actor)
        except Conflict:
            continue
    raise Conflict(f"{PROBES} other messages were stamped the same second; resend later")


def store_owntracks(container: Container, device: AdapterDevice, body: bytes, channel: str) -> None:
    """Shared by HTTP and MQTT: decrypt if needed, decode, ingest."""
    try:
        message = parse_json(body)
        if message.get("_type") == "encrypted":
            if device.payload_key is None:
                raise AdapterInputError("_type: encrypted, but this device has no encryption key")
            message = owntracks.decrypt(device.payload_key, message)
        elif device.payload_key is not None:
            raise AdapterInputError("_type: this device must send encrypted payloads")
        items = owntracks.decode(message, received_at=container.clock.now())
    except AdapterInputError as exc:
        raise Invalid(str(exc)) from None
    ingest(container, device, items, channel=channel)
