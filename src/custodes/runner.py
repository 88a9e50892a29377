"""The runner, an entrypoint: the loops of the pipeline, ticks, check-in sweep and notifications,
in `custodes serve` (embedded, through `lifespan`) and in `custodes worker`.

Each loop is a thread: the pipeline (woken by uploads, else polling), the scheduled ticks, the
check-in sweep (draws prompts, raises missed ones), the alert notifications, signed audit
checkpoints, and, in workers, the MQTT subscriber that stores incoming batches.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from custodes.access.actor import Actor
from custodes.bootstrap import Container
from custodes.checkins.scheduled import sweep
from custodes.clock import SystemClock
from custodes.telemetry.pipeline import Pipeline

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, container: Container, *, mqtt: bool, name: str, poll_s: float | None = None,
                 tick_s: float | None = None, notify_s: float = 1.0, notify: bool = True,
                 sweep_s: float = 60.0, checkpoint_s: float = 60.0) -> None:
        self.container = container
        self.fault = fault_point()
        self.pipeline = Pipeline(container, crash_hook=self.fault)
        self.name = name
        self.mqtt = mqtt
        # Uploads to this process wake the pipeline at once; polling only finds batches stored by
        # other processes. On SQLite every transaction takes the write lock, so poll less often.
        sqlite = container.engine.dialect.name == "sqlite"
        self.poll_s = poll_s if poll_s is not None else (0.25 if sqlite else 0.05)
        # Scheduled checks every CUSTODES_TICK_SECONDS (default 30; 0 turns them off, e.g. while
        # replaying history, where "silent since hours" would be an artefact of the replay).
        self.tick_s = tick_s if tick_s is not None else float(os.environ.get("CUSTODES_TICK_SECONDS", "30"))
        self.notify_s, self.notify = notify_s, notify
        self.sweep_s = sweep_s
        self.checkpoint_s = checkpoint_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.subscriber = None
        self._alert_client = None
        self._mqtt_retry_at = 0.0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._spawn("warm", self._warm)
        self._spawn("pipeline", self._pipeline_loop)
        if self.tick_s > 0:
            self._spawn("ticks", self._every(self.tick_s, self.pipeline.tick))
            # Check-in prompts are drawn and missed ones raised by the same scheduled-checks switch.
            self._spawn("checkins", self._every(self.sweep_s, lambda: sweep(self.container)))
        if self.checkpoint_s > 0:
            # Signed audit checkpoints outside the database, so a cut chain tail is caught.
            self._spawn("audit-checkpoint", self._every(self.checkpoint_s, self._checkpoint))
        if self.mqtt:
            from custodes.telemetry.mqtt import TelemetrySubscriber

            self.subscriber = TelemetrySubscriber(self.container, self._store_mqtt, client_id=self.name)
            self.subscriber.start()
        if self.notify:
            self._spawn("notify", self._every(self.notify_s, self._notify_once))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.subscriber is not None:
            self.subscriber.stop()
        for t in self._threads:
            t.join(timeout=10)
        if self._alert_client is not None:
            self._alert_client.loop_stop()
            self._alert_client.disconnect()

    def wait(self) -> None:
        while not self._stop.wait(1.0):
            pass

    # -- loops --------------------------------------------------------------------------------
    def _spawn(self, what: str, fn: Callable[[], None]) -> None:
        t = threading.Thread(target=fn, name=f"{self.name}-{what}", daemon=True)
        t.start()
        self._threads.append(t)

    def _warm(self) -> None:
        try:
            log.info("rules warm for %d subjects", self.pipeline.warm())
        except Exception:
            log.exception("warming the rule sets failed; they compile on first use instead")

    def _pipeline_loop(self) -> None:
        while not self._stop.is_set():
            try:
                turn = self.pipeline.run_once()
            except Exception:
                log.exception("pipeline turn failed; the batches stay pending and are retried")
                turn = None
            if turn is None or turn.batches == 0:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def _every(self, seconds: float, fn: Callable[[], object]) -> Callable[[], None]:
        def loop() -> None:
            while not self._stop.wait(seconds):
                try:
                    fn()
                except Exception:
                    log.exception("%s failed; retried next round", getattr(fn, "__name__", "job"))
        return loop

    def _checkpoint(self) -> None:
        from custodes.audit.anchors import checkpoint

        checkpoint(self.container)

    def _notify_once(self) -> None:
        from custodes.alerts.notify import LiveSender, NotifyConfig, deliver, fan_out

        config = NotifyConfig.from_container(self.container)
        if self._alert_client is None and time.monotonic() >= self._mqtt_retry_at:
            self._mqtt_retry_at = time.monotonic() + 60  # a missing broker is retried once a minute
            try:
                from custodes.telemetry.mqtt import connect

                self._alert_client = connect(self.container, f"{self.name}-alerts-{socket.gethostname()}")
                self._alert_client.loop_start()
            except OSError as exc:
                log.warning("MQTT broker unreachable for alert notifications: %s", exc)
        while fan_out(self.container, config):
            pass
        deliver(self.container, config, LiveSender(self._alert_client))

    def _store_mqtt(self, topic: str, headers: dict[str, str], body: bytes) -> None:
        from custodes.devices.signing import H_SIGNATURE
        from custodes.telemetry import service
        from custodes.telemetry.mqtt import verify_message

        device_id = verify_message(self.container, topic, headers, body)
        try:
            service.ingest(self.container, device_id=device_id, body=body,
                           ndjson=headers.get("content-type") == "application/x-ndjson", channel="mqtt",
                           signature=headers.get(H_SIGNATURE, ""),
                           actor=Actor(kind="device", id=str(device_id), name=None))
        except Exception as exc:
            from custodes.errors import Conflict, Invalid

            if isinstance(exc, Invalid | Conflict):  # refused for good; the raw stays with the broker log
                log.warning("refused MQTT batch from %s: %s", device_id, exc.detail)
                return
            raise
        self.fault("stored")  # stored and committed, not yet acknowledged to the broker
        self.wake()


def fault_point() -> Callable[[str], None]:
    """Fault injection for the crash tests: CUSTODES_FAULT_AT=step:n kills the process (as kill -9
    would) the n-th time it passes `step` (stored, trail, rules, commit). Unset: does nothing."""
    spec = os.environ.get("CUSTODES_FAULT_AT")
    if not spec:
        return lambda step: None
    target, n = spec.split(":")
    seen: Counter[str] = Counter()

    def hit(step: str) -> None:
        seen[step] += 1
        if step == target and seen[step] == int(n):
            log.warning("fault injected at %s #%s: exiting", step, n)
            os._exit(137)

    return hit


def run_worker(container: Container, name: str | None = None) -> None:
    runner = Runner(container, mqtt=True, name=name or f"custodes-worker-{socket.gethostname()}")
    runner.start()
    try:
        runner.wait()
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the pipeline in-process (`custodes serve`, the embedded default) unless
    `CUSTODES_PIPELINE=worker` hands it to `custodes worker` processes, or the app runs on a simulated
    clock (tests and simulations drive the pipeline themselves)."""
    container = app.state.container
    runner = None
    if os.environ.get("CUSTODES_PIPELINE", "embedded") == "embedded" and isinstance(container.clock, SystemClock):
        runner = Runner(container, mqtt=os.environ.get("CUSTODES_SERVE_MQTT") == "1", name="custodes-serve")
        runner.start()
    app.state.telemetry_runner = runner
    try:
        yield
    finally:
        if runner is not None:
            runner.stop()
