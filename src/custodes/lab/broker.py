"""A private Mosquitto for the MQTT benchmarks, configured as docs/deployment.md asks of production.

Stock Mosquitto queues at most 1,000 QoS 1 messages for a subscriber and silently drops the rest
(seen here: the shared broker dropped most of a benchmark's messages it had acknowledged), so an
MQTT figure taken on it measures the broker's default, not the platform. This one has no queue
limit, on a free loopback port, and is stopped with the benchmark.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO = Path("/usr/sbin/mosquitto")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateBroker:
    def __init__(self, max_queued: int = 0, max_inflight: int = 1000) -> None:
        if not MOSQUITTO.exists():
            raise SystemExit(f"{MOSQUITTO} is missing: the MQTT benchmark starts its own broker (apt-get install mosquitto)")
        self.root = Path(tempfile.mkdtemp(prefix="custodes-broker-"))
        self.port = _free_port()
        self.log = self.root / "mosquitto.log"
        conf = self.root / "mosquitto.conf"
        # max_queued_messages 0: no limit (a full queue must show as latency, not as lost messages).
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"max_queued_messages {max_queued}\nmax_inflight_messages {max_inflight}\n"
                        f"log_dest file {self.log}\nlog_type error\nlog_type warning\n")
        shutil.chown(self.root, "mosquitto", "mosquitto") if _user("mosquitto") else None
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the private Mosquitto did not start (see {self.log})") from None
                time.sleep(0.05)

    def dropped(self) -> bool:
        """Whether the broker logged dropping messages (it should never, with no queue limit)."""
        return self.log.exists() and "dropped" in self.log.read_text(errors="replace").lower()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
