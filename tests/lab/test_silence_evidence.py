"""The simulator's unexplained device_silent alerts get the reason the platform's database shows:
fixes of the "silent" hour stored after the alert (still on their way), stored before it (a platform
fault), or none at all (left unexplained)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from custodes.devices.models import Device
from custodes.lab.device_client import encode
from custodes.lab.field.throughput import ALREADY_STORED, STILL_ON_ITS_WAY, silence_evidence
from custodes.telemetry.models import TelemetryBatch

SEEN = datetime(2027, 1, 15, 1, 0, tzinfo=UTC)
ALERT_AT = SEEN + timedelta(hours=1)
RAISED = SEEN + timedelta(hours=2)
UNEXPLAINED = "not explained by the simulator: no planted silence or gap within 30 minutes"


def _device(container, agency_id, n: int) -> uuid.UUID:
    d = uuid.uuid4()
    with container.engine.begin() as conn:
        conn.execute(sa.insert(Device.__table__), [{
            "id": d, "agency_id": agency_id, "kind": "ankle_tag", "serial": f"S-{n}", "barcode": f"B-{n}",
            "status": "issued", "created_at": SEEN}])
    return d


def _batch(container, device_id, seq: int, fix_at: datetime, received: datetime) -> None:
    body = encode(seq, [{"kind": "fix", "time": fix_at.isoformat().replace("+00:00", "Z"), "lat": 51.5, "lon": -0.1,
                         "accuracy_m": 8.0, "source": "gps"}])
    with container.engine.begin() as conn:
        conn.execute(sa.insert(TelemetryBatch.__table__), [{
            "device_id": device_id, "seq": seq, "received_at": received, "channel": "mqtt", "encoding": "json",
            "raw": body, "signature": "", "item_count": 1, "fix_count": 1, "statuses": [], "rejected": [],
            "attempts": 0, "processed_at": received}])


def _extra(device_id) -> dict:
    return {"subject_id": str(uuid.uuid4()), "kind": "device_silent", "reason": UNEXPLAINED,
            "device_id": str(device_id), "at": ALERT_AT.isoformat(), "raised_at": RAISED.isoformat(),
            "last_seen": SEEN.isoformat()}


def test_silent_alerts_get_the_reason_the_database_shows(container, agencies):
    late, stored, silent = (_device(container, agencies["home_office"], n) for n in range(3))
    _batch(container, late, 1, SEEN + timedelta(minutes=30), RAISED + timedelta(minutes=5))
    _batch(container, stored, 1, SEEN + timedelta(minutes=30), RAISED - timedelta(minutes=5))
    _batch(container, silent, 1, ALERT_AT + timedelta(minutes=10), RAISED + timedelta(minutes=5))  # after the hour
    extra = [_extra(late), _extra(stored), _extra(silent)]
    assert silence_evidence(container.settings.database_url, extra) == 2
    assert [e["reason"] for e in extra] == [STILL_ON_ITS_WAY, ALREADY_STORED, UNEXPLAINED]
