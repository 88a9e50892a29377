"""Each process's memory of device credentials: the unsealed secret, the agency, the serial and the
order start, so that an upload is authenticated without reading the database.

A device uploads every 1-5 minutes, so a cache that forgets after a few seconds never hits; this one
keeps an entry until the database says the device changed. Triggers (migration 1430) write a
`device_changes` row whenever a device's row, its assignments or its subject's orders change, and a
process reads the new rows at most once a second (`POLL_S`), on the next lookup, and forgets those
devices. A rotated secret, an ended assignment or a new order therefore reaches every process within
about a second; a signature that fails against a remembered secret is checked once more against the
database, so a device that has just been given its new secret is never refused for it.

PostgreSQL hands out the ids in the order transactions ask, not the order they commit, so every poll
re-reads the last `SLACK` ids and acts on those it has not seen. A lookup whose read began before a
poll that forgot its device is not remembered (it may have read the old row). Entries also expire
after `MAX_AGE_S`, and at most `max_keys` are kept, least recently used first out.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, select

from custodes.actor import Actor
from custodes.bootstrap import Container
from custodes.devices.models import Assignment, Device, DeviceChange
from custodes.orders.models import Order

ACTOR = Actor.system("device-credentials")
EXTRAS_KEY = "device_credentials"


def seal(device_key: bytes, device_id: uuid.UUID, secret: str) -> bytes:
    """A device secret sealed (AES-GCM) under the server's device key, bound to the device id."""
    nonce = os.urandom(12)
    return nonce + AESGCM(device_key).encrypt(nonce, secret.encode(), device_id.bytes)


def unseal(device_key: bytes, device_id: uuid.UUID, blob: bytes) -> str:
    return AESGCM(device_key).decrypt(blob[:12], blob[12:], device_id.bytes).decode()


def fixes_from_query(device_id):
    """The order start of a device (see `Credential.fixes_from`), as a scalar subquery; indexed on
    assignments.device_id and orders.subject_id."""
    return (select(func.min(Order.starts_at)).join(Assignment, Assignment.subject_id == Order.subject_id)
            .where(Assignment.device_id == device_id, Order.status != "draft").scalar_subquery())


@dataclass(frozen=True)
class Credential:
    device_id: uuid.UUID
    agency_id: uuid.UUID
    serial: str
    secret: str | None  # None: no secret issued (the device cannot sign)
    # The earliest start of an order of anyone the device has been assigned to: fixes older than that
    # have no legal basis to be kept.
    fixes_from: datetime | None
    loaded: float  # time.monotonic() when read


class CredentialCache:
    POLL_S = 1.0
    MAX_AGE_S = 900.0
    SLACK = 1000  # ids re-read by every poll (commits out of id order)
    KEEP_CHANGES = 100_000  # rows of device_changes kept; the oldest are deleted by the polls

    def __init__(self, container: Container, max_keys: int = 200_000) -> None:
        self.container = container
        self.max_keys = max_keys
        self._items: OrderedDict[uuid.UUID, Credential] = OrderedDict()
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._next_poll = 0.0
        self._high: int | None = None  # highest change id seen; None before the first poll
        self._seen: set[int] = set()
        self._generation = 0
        self._forgotten: dict[uuid.UUID, int] = {}  # device -> generation of the poll that forgot it
        self._polls = 0
        self.hits = self.misses = 0

    def get(self, device_id: uuid.UUID) -> Credential | None:
        """The device's credential (None for a device that does not exist), from memory when the
        database has not said it changed, else read now."""
        hit = self.remembered(device_id)
        return hit if hit is not None else self.load(device_id)

    def remembered(self, device_id: uuid.UUID) -> Credential | None:
        """The device's credential from memory, when the database has not said it changed; None on a miss."""
        self.poll_if_due()
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(device_id)
            if hit is not None and now - hit.loaded < self.MAX_AGE_S:
                self._items.move_to_end(device_id)
                self.hits += 1
                return hit
        self.misses += 1
        return None

    def load(self, device_id: uuid.UUID) -> Credential | None:
        """Read the device now, and remember it unless a poll forgot it while it was being read."""
        generation = self._generation
        row = self._read(device_id)
        if row is None:
            return None
        secret = unseal(self.container.device_key, device_id, row[2]) if row[2] is not None else None
        cred = Credential(device_id, row[0], row[1], secret, row[3], time.monotonic())
        with self._lock:
            if self._forgotten.get(device_id, -1) < generation:
                self._items[device_id] = cred
                self._items.move_to_end(device_id)
                while len(self._items) > self.max_keys:
                    self._items.popitem(last=False)
        return cred

    def _read(self, device_id: uuid.UUID):
        with self.container.uow(ACTOR) as uow:
            return uow.session.execute(select(Device.agency_id, Device.serial, Device.secret_sealed,
                                              fixes_from_query(Device.id)).where(Device.id == device_id)).first()

    def poll_if_due(self) -> None:
        if time.monotonic() < self._next_poll or not self._poll_lock.acquire(blocking=False):
            return
        try:
            if time.monotonic() >= self._next_poll:
                self.poll()
        finally:
            self._poll_lock.release()

    def poll(self) -> int:
        """Forget every device the database has changed since the last poll; the number forgotten."""
        table = DeviceChange.__table__
        with self.container.uow(ACTOR) as uow:
            s = uow.session
            if self._high is None:
                self._high = s.scalar(select(func.coalesce(func.max(table.c.id), 0)))
                rows = []
            else:
                rows = s.execute(select(table.c.id, table.c.device_id).where(table.c.id > self._high - self.SLACK)).all()
            self._polls += 1
            if self._polls % 600 == 0:  # about every ten minutes: keep the table short
                s.execute(delete(table).where(table.c.id < self._high - self.KEEP_CHANGES))
                uow.commit()
        fresh = [(i, d) for i, d in rows if i not in self._seen]
        self._generation += 1
        with self._lock:
            for _, device_id in fresh:
                self._items.pop(device_id, None)
                self._forgotten[device_id] = self._generation
            if len(self._forgotten) > 10 * self.SLACK:
                horizon = self._generation - 100
                self._forgotten = {d: g for d, g in self._forgotten.items() if g >= horizon}
        if fresh:
            self._high = max(self._high, max(i for i, _ in fresh))
        self._seen = {i for i in self._seen | {i for i, _ in fresh} if i > self._high - self.SLACK}
        self._next_poll = time.monotonic() + self.POLL_S
        return len({d for _, d in fresh})


_LOCK = threading.Lock()


def cache(container: Container) -> CredentialCache:
    """The process's credential cache for this container (its database)."""
    with _LOCK:
        c = container.extras.get(EXTRAS_KEY)
        if c is None:
            c = container.extras[EXTRAS_KEY] = CredentialCache(container)
        return c  # type: ignore[return-value]
