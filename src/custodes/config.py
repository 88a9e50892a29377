"""Settings, read once at bootstrap from the environment (`CUSTODES_<NAME>`) and passed on through
the Container; nothing else reads the environment for configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """The shared evaluation data folder (never copied into the repository)."""
    return Path(os.environ.get("CUSTODES_DATA", _repo_root().parent / "shared" / "data")).resolve()


# Retention: days of grace after the legal basis ends (order end or revocation), per data class.
# Override one with CUSTODES_RETENTION_<CLASS>_DAYS; `retention/policy.py` refuses more than six years.
RETENTION_GRACE_DAYS: dict[str, int] = {
    "telemetry_batches": 30,   # raw uploads: evidence for a contested alert, then redundant with the trail
    "trail": 90,               # the period in which a representation or appeal is usually made
    "checkin_photos": 30,
    "face_templates": 0,       # nothing is verified once the order has ended
    "alerts": 365,
    "reviews": 365,
    "subject_record": 730,     # the case file: last, so that everything else goes first
    "audit_log": 2190,         # by each entry's own age (six years), not per subject: see docs/retention.md
}


def _retention_from_env() -> dict[str, int]:
    out = dict(RETENTION_GRACE_DAYS)
    for name in out:
        raw = os.environ.get(f"CUSTODES_RETENTION_{name.upper()}_DAYS")
        if raw is not None:
            out[name] = int(raw)
    return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTODES_", frozen=True, extra="ignore")

    home: Path = Field(default_factory=lambda: Path.cwd() / "var", description="data folder; keys in home/keys")
    database_url: str = Field(default="", description="default: SQLite in WAL mode under home")
    token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Sign-in throttling (access/throttle.py): free attempts, then a stepped delay per key.
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_lockout_seconds: int = Field(default=300, ge=1, description="first delay for a username+address")
    sign_in_user_delay_cap_s: int = Field(default=60, ge=1, description="longest delay for a username alone")
    sign_in_address_delay_cap_s: int = Field(default=3600, ge=1)
    # Per-device upload allowance (edge/rates.py): a burst, then a steady refill.
    device_burst: int = Field(default=60, ge=1)
    device_per_second: float = Field(default=1.0, gt=0)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_group: str = "custodes"
    pipeline: Literal["embedded", "worker"] = "embedded"
    serve_mqtt: bool = False
    # Resilience: the Retry-After of a 503/507 while the database is away or full, and how long a
    # connection attempt to one host of a (multi-host) database URL may take before the next is tried.
    unavailable_retry_after_s: int = Field(default=5, ge=1, le=3600)
    db_connect_timeout_s: int = Field(default=3, ge=1, le=60)
    # Connections each process keeps open to PostgreSQL. Above the pool, SQLAlchemy opens a connection
    # per checkout and closes it on return: with the API's 40 request threads and a pool of 5 that was
    # several new backends a second under load (seen in the 1,000-person simulation). Keep
    # processes x (pool + overflow) under the server's max_connections.
    db_pool_size: int = Field(default=20, ge=1, le=500)
    db_max_overflow: int = Field(default=10, ge=0, le=500)
    tick_seconds: float = Field(default=30.0, ge=0, description="scheduled checks; 0 turns them off")
    # The live audit sample (checkins/audit_sample.py): the share of verified check-ins people re-check,
    # so that live false matches can be counted at all.
    checkin_audit_share: float = Field(default=0.02, ge=0, le=1, description="share of verified check-ins audited")
    alert_webhook_url: str | None = None
    # The console: officers' time zone for displayed times, and an optional map tile server
    # ({z}/{x}/{y} template); without one, zones and trails draw on a plain background.
    console_time_zone: str = "Europe/London"
    map_tile_url: str = ""
    retention_grace_days: dict[str, int] = Field(default_factory=_retention_from_env)
    # CUSTODES_<NAME>_KEY values found in the environment (server keys given instead of key files).
    keys: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _derived(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        home = Path(data.get("home") or Path.cwd() / "var").resolve()
        data["home"] = home
        if not data.get("database_url"):
            data["database_url"] = f"sqlite:///{home / 'custodes.db'}"
        if "keys" not in data:
            data["keys"] = {name[len("CUSTODES_"):-len("_KEY")].lower(): value for name, value in os.environ.items()
                            if name.startswith("CUSTODES_") and name.endswith("_KEY") and value}
        return data

    @property
    def key_dir(self) -> Path:
        return self.home / "keys"

    @classmethod
    def from_env(cls, home: Path | None = None, database_url: str | None = None) -> Settings:
        given: dict[str, Any] = {}
        if home is not None:
            given["home"] = home
        if database_url:
            given["database_url"] = database_url
        return cls(**given)
