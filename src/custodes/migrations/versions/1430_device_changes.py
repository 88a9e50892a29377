"""Device changes: a row for every device whose credentials or order start may have changed.

Every API and worker process keeps each device's unsealed secret and order start in memory
(`devices.credentials`), so an upload needs no database read to be authenticated. This table tells
those processes what to forget. Triggers write it, so that no code path that changes a device's secret,
its assignments, or the orders of the people it is assigned to can forget to:
- devices: any update or delete (the secret, its serial, its agency);
- assignments: any insert, update or delete (the device's order start is over its assignments);
- orders: any insert, update or delete, for every device assigned to the order's subject.

Revision ID: 1430_device_changes
Revises: 1400_ingest
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1430_device_changes"
down_revision = "1400_ingest"
branch_labels = None
depends_on = None

_PG = """
CREATE FUNCTION custodes_device_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'devices' THEN
        INSERT INTO device_changes (device_id) VALUES (OLD.id);
    ELSIF TG_TABLE_NAME = 'assignments' THEN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO device_changes (device_id) VALUES (OLD.device_id);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO device_changes (device_id) VALUES (NEW.device_id);
        END IF;
    ELSE
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO device_changes (device_id) SELECT device_id FROM assignments WHERE subject_id = OLD.subject_id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO device_changes (device_id) SELECT device_id FROM assignments WHERE subject_id = NEW.subject_id;
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER device_changed AFTER UPDATE OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION custodes_device_changed();
CREATE TRIGGER device_changed AFTER INSERT OR UPDATE OR DELETE ON assignments
    FOR EACH ROW EXECUTE FUNCTION custodes_device_changed();
CREATE TRIGGER device_changed AFTER INSERT OR UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION custodes_device_changed();
"""

_SUBJECT_DEVICES = "INSERT INTO device_changes (device_id) SELECT device_id FROM assignments WHERE subject_id = {}.subject_id;"
_SQLITE = {
    "device_changed_devices_u": ("UPDATE ON devices", "INSERT INTO device_changes (device_id) VALUES (OLD.id);"),
    "device_changed_devices_d": ("DELETE ON devices", "INSERT INTO device_changes (device_id) VALUES (OLD.id);"),
    "device_changed_assignments_i": ("INSERT ON assignments",
                                     "INSERT INTO device_changes (device_id) VALUES (NEW.device_id);"),
    "device_changed_assignments_u": ("UPDATE ON assignments",
                                     "INSERT INTO device_changes (device_id) VALUES (OLD.device_id), (NEW.device_id);"),
    "device_changed_assignments_d": ("DELETE ON assignments",
                                     "INSERT INTO device_changes (device_id) VALUES (OLD.device_id);"),
    "device_changed_orders_i": ("INSERT ON orders", _SUBJECT_DEVICES.format("NEW")),
    "device_changed_orders_u": ("UPDATE ON orders", _SUBJECT_DEVICES.format("OLD") + _SUBJECT_DEVICES.format("NEW")),
    "device_changed_orders_d": ("DELETE ON orders", _SUBJECT_DEVICES.format("OLD")),
}


def upgrade() -> None:
    op.create_table(
        "device_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.Uuid(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG)
    else:
        for name, (when, body) in _SQLITE.items():
            op.execute(f"CREATE TRIGGER {name} AFTER {when} BEGIN {body} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("devices", "assignments", "orders"):
            op.execute(f"DROP TRIGGER device_changed ON {table}")
        op.execute("DROP FUNCTION custodes_device_changed()")
    else:
        for name in _SQLITE:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("device_changes")
