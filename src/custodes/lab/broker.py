"""Private Mosquitto instances, for the MQTT benchmarks and the fault tests.

Stock Mosquitto queues at most 1,000 QoS 1 messages for a subscriber and silently drops the rest
(seen here: the shared broker dropped most of a benchmark's messages it had acknowledged), so an
MQTT figure taken on it measures the broker's default, not the platform. The benchmarks' broker
(`PrivateBroker`) has no queue limit, as docs/deployment.md asks of production; the fault tests'
keeps its messages and sessions on disk so that they survive a restart. Each listens on a free
loopback port and is removed with its folder when closed.
"""

from __future__ import annotations

import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO = Path("/usr/sbin/mosquitto")


class BrokerMissing(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, up: bool, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not come {'up' if up else 'down'} within {timeout:.0f} s")


class Mosquitto:
    """One Mosquitto on a free loopback port, in `root` (made when not given). `persistent` keeps QoS 1
    messages and persistent sessions across a restart; `max_queued=0` is no queue limit."""

    def __init__(self, root: Path | None = None, *, persistent: bool = False, max_queued: int = 0,
                 max_inflight: int = 1000) -> None:
        if not MOSQUITTO.exists():
            raise BrokerMissing(f"{MOSQUITTO} is missing (apt-get install mosquitto)")
        self.root = root or Path(tempfile.mkdtemp(prefix="custodes-broker-"))
        self.port = free_port()
        self.conf = self.root / "mosquitto.conf"
        self.log = self.root / "mosquitto.log"
        keep = ""
        if persistent:
            store = self.root / "store"
            store.mkdir(exist_ok=True)
            _give_to_mosquitto(store)
            keep = f"persistence_location {store}/\nautosave_interval 1\n"
        _give_to_mosquitto(self.root)
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence {str(persistent).lower()}\n{keep}"
            f"max_queued_messages {max_queued}\nmax_inflight_messages {max_inflight}\n"
            f"log_dest file {self.log}\nlog_type error\nlog_type warning\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_port(self.port, up=True)
        except TimeoutError:
            raise RuntimeError(f"the private Mosquitto did not start (see {self.log})") from None

    def stop(self) -> None:
        """A clean stop (SIGTERM): a persistent broker writes its store on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        wait_port(self.port, up=False)

    def dropped(self) -> bool:
        """Whether the broker logged dropping messages (it should never, with no queue limit)."""
        return self.log.exists() and "dropped" in self.log.read_text(errors="replace").lower()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateBroker(Mosquitto):
    """The benchmarks' broker: no queue limit, started at once."""

    def __init__(self) -> None:
        try:
            super().__init__()
            self.start()
        except (BrokerMissing, RuntimeError) as exc:
            raise SystemExit(f"the MQTT benchmark starts its own broker: {exc}") from None


def _give_to_mosquitto(path: Path) -> None:
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        return
    shutil.chown(path, "mosquitto", "mosquitto")
