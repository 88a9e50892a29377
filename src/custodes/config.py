"""Settings read from the environment, once, at bootstrap."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """The shared evaluation data folder (never copied into the repository)."""
    return Path(os.environ.get("CUSTODES_DATA", _repo_root().parent / "shared" / "data")).resolve()


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    token_minutes: int = 15
    sign_in_max_failures: int = 5
    sign_in_lockout_seconds: int = 300
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    # The console: officers' time zone for displayed times, and an optional map tile server
    # ({z}/{x}/{y} template); without one, zones and trails draw on a plain background.
    console_time_zone: str = "Europe/London"
    map_tile_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key_dir(self) -> Path:
        return self.home / "keys"

    @classmethod
    def from_env(cls, home: Path | None = None, database_url: str | None = None) -> Settings:
        home = Path(home or os.environ.get("CUSTODES_HOME", Path.cwd() / "var")).resolve()
        url = database_url or os.environ.get("CUSTODES_DATABASE_URL") or f"sqlite:///{home / 'custodes.db'}"
        return cls(
            home=home,
            database_url=url,
            token_minutes=int(os.environ.get("CUSTODES_TOKEN_MINUTES", "15")),
            mqtt_host=os.environ.get("CUSTODES_MQTT_HOST", "127.0.0.1"),
            mqtt_port=int(os.environ.get("CUSTODES_MQTT_PORT", "1883")),
            console_time_zone=os.environ.get("CUSTODES_CONSOLE_TIME_ZONE", "Europe/London"),
            map_tile_url=os.environ.get("CUSTODES_MAP_TILE_URL", ""),
        )
