"""`custodes bench load` against a real platform: `custodes serve` and one `custodes worker` on
PostgreSQL (a private schema) and the MQTT broker, driven for a few seconds over HTTP and over MQTT.
The figures must agree with each other and with the processes that really ran."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from custodes.bootstrap import bootstrap
from custodes.config import Settings
from custodes.db import migrate
from custodes.lab.broker import free_port
from custodes.lab.ingest_bench import spawn
from custodes.lab.load_bench import LoadRefused, bench_database_url, check_local, run
from custodes.telemetry.mqtt import forget_session

PG_URL = os.environ.get("CUSTODES_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def platform():
    schema = f"load_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    home = Path(tempfile.mkdtemp(prefix="custodes-load-test-"))
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CUSTODES_")},
           "CUSTODES_DATABASE_URL": url, "CUSTODES_HOME": str(home), "CUSTODES_PIPELINE": "worker",
           "CUSTODES_MQTT_GROUP": schema, "CUSTODES_DATA": os.environ.get("CUSTODES_DATA", "")}
    migrate.upgrade(url)
    procs = []
    container = bootstrap(Settings(home=home, database_url=bench_database_url(url)))
    try:
        procs.append(spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, home / "serve.log",
                           "Application startup complete"))
        procs.append(spawn(["worker", "--name", f"{schema}-w"], env, home / "worker.log", "subscription ready"))
        yield {"container": container, "db_url": url, "url": f"http://127.0.0.1:{port}", "serve": procs[0].pid,
               "worker": procs[1].pid}
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)
        forget_session(container, f"{schema}-w")
        container.close()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.mark.parametrize("via", ["http", "mqtt"])
def test_bench_load_figures_agree(platform, via, tmp_path):
    out = run(container=platform["container"], platform_db_url=platform["db_url"], url=platform["url"],
              devices=8, rate=4, via=via, seconds=5, breach_share=0.5, drain_s=60, seed=3,
              json_path=tmp_path / "load.json", console=Console(stderr=True, width=120))
    f = out["figures"]
    m, lat = f["messages"], f["latency_s"]
    print(via, f["messages"], f["messages_per_s"], lat, f["alerts"], f["errors"])
    assert (tmp_path / "load.json").exists()
    assert f["errors"] == {}, f["errors"]
    # Bounded by the schedule: about rate x seconds, never more than its own cap.
    assert 10 <= out["run"]["offered"] <= 4 * 5 * 1.5 + 8
    assert m["accepted"] == out["run"]["offered"], "every upload offered was accepted (no errors)"
    assert m["processed"] <= m["stored"] <= m["accepted"] and m["processed"] == m["accepted"]
    assert 0 < f["fixes"]["processed"] <= f["fixes"]["accepted"]
    assert f["messages_per_s"]["accepted"] <= 4 * 1.5
    for name in ("upload_to_accepted", "upload_to_stored", "upload_to_processed", "upload_to_alert"):
        assert lat[name]["p50"] is not None and 0 <= lat[name]["p50"] <= lat[name]["p99"], (name, lat[name])
    assert lat["upload_to_stored"]["p50"] <= lat["upload_to_processed"]["p50"]
    a = f["alerts"]
    assert a["planted_breaches"] >= 1 and a["planted_breaches_raised"] == a["planted_breaches"], a
    procs = out["processes"]
    assert procs["api"]["pids"] == [platform["serve"]]
    assert procs["workers"]["pids"] == [platform["worker"]]
    assert procs["workers"]["cpu_pct_of_one_core"] > 0 and procs["workers"]["pss_mb_peak"] > 10


def test_bench_load_refuses_other_hosts():
    with pytest.raises(LoadRefused, match="not this machine"):
        check_local("http://192.168.1.5:8000", "127.0.0.1")
    with pytest.raises(LoadRefused, match="--mqtt-host"):
        check_local("http://127.0.0.1:8000", "broker.example")
