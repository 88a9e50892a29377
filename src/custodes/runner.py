"""The runner, an entrypoint: the loops of the pipeline, ticks, check-in sweep and notifications,
in `custodes serve` (embedded, through `lifespan`) and in `custodes worker`.

Each loop is a thread: the pipeline (woken by uploads, else polling), the scheduled ticks, the
check-in sweep (draws prompts, raises missed ones), the audit sample of verified check-ins,
overdue quarterly reviews and overdue answers to contests and representations, the alert
notifications, signed audit checkpoints, and, in workers, the MQTT subscriber that stores
incoming batches.
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

from custodes.actor import Actor
from custodes.adapters import service as adapters
from custodes.alerts.notify import LiveSender, NotifyConfig, deliver, fan_out
from custodes.bootstrap import Container
from custodes.checkins.audit_sample import audit_tick
from custodes.checkins.scheduled import sweep
from custodes.devices.signing import H_SIGNATURE
from custodes.errors import Forbidden, storage_refusal
from custodes.telemetry import compaction, service
from custodes.telemetry.mqtt import connect, verify_message
from custodes.orders.scheduled import review_overdue_tick
from custodes.subject_access.scheduled import task_overdue_tick
from custodes.telemetry.pipeline import Pipeline

log = logging.getLogger(__name__)
# Reconnection backoff to the broker and the database: short enough that a restart is bridged in
# seconds, long enough that an outage is not a busy loop of failed attempts.
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.5, 5.0


class Runner:
    def __init__(self, container: Container, *, mqtt: bool, name: str, poll_s: float | None = None,
                 tick_s: float | None = None, notify_s: float = 1.0, notify: bool = True,
                 sweep_s: float = 60.0, fault: Callable[[str], None] | None = None,
                 checkpoint_s: float = 60.0) -> None:
        self.container = container
        self.fault = fault or (lambda step: None)
        self.pipeline = Pipeline(container, crash_hook=self.fault)
        self.name = name
        self.mqtt = mqtt
        # Uploads to this process wake the pipeline at once; polling only finds batches stored by
        # other processes. On SQLite every transaction takes the write lock, so poll less often.
        sqlite = container.engine.dialect.name == "sqlite"
        self.poll_s = poll_s if poll_s is not None else (0.25 if sqlite else 0.05)
        # Scheduled checks every CUSTODES_TICK_SECONDS (default 30; 0 turns them off, e.g. while
        # replaying history, where "silent since hours" would be an artefact of the replay).
        self.tick_s = tick_s if tick_s is not None else container.settings.tick_seconds
        self.notify_s, self.notify = notify_s, notify
        self.sweep_s = sweep_s
        self.checkpoint_s = checkpoint_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.subscriber = None
        self._sender: LiveSender | None = None
        self._notify_config: NotifyConfig | None = None
        self._mqtt_retry_at = 0.0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._spawn("warm", self._warm)
        self._spawn("pipeline", self._pipeline_loop)
        if self.tick_s > 0:
            self._spawn("ticks", self._every(self.tick_s, self.pipeline.tick))
            # Trail compaction: hours settle 15 minutes after they end; runners skip each other's devices.
            self._spawn("trail-compaction", self._every(self.sweep_s * 5, lambda: compaction.tick(self.container)))
            # Check-in prompts are drawn and missed ones raised by the same scheduled-checks switch.
            self._spawn("checkins", self._every(self.sweep_s, lambda: sweep(self.container)))
            # The live audit sample: a share of verified check-ins goes to people (false-match monitoring).
            self._spawn("audit-sample", self._every(self.sweep_s, lambda: audit_tick(self.container)))
            # Overdue quarterly reviews: a due date is a day, so every ten sweeps is soon enough.
            self._spawn("reviews", self._every(self.sweep_s * 10, lambda: review_overdue_tick(self.container)))
            # Contests and representations unanswered at their deadline: days long, so as seldom.
            self._spawn("tasks", self._every(self.sweep_s * 10, lambda: task_overdue_tick(self.container)))
        if self.checkpoint_s > 0:
            # Signed audit checkpoints outside the database, so a cut chain tail is caught.
            self._spawn("audit-checkpoint", self._every(self.checkpoint_s, self._checkpoint))
        if self.mqtt and not self._subscribe(retry=False):
            self._spawn("mqtt-connect", self._subscribe)
        if self.notify:
            self._spawn("notify", self._every(self.notify_s, self._notify_once))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.subscriber is not None:
            self.subscriber.stop()
        for t in self._threads:
            t.join(timeout=10)
        if self._sender is not None:
            self._sender.close()

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

    def _subscribe(self, retry: bool = True) -> bool:
        """Subscribe, waiting with backoff for a broker that is not there yet; once connected, paho
        reconnects by itself (within RECONNECT_MAX_S) and the persistent session brings back what
        was not acknowledged."""
        from custodes.telemetry.mqtt import TelemetrySubscriber

        delay = RECONNECT_MIN_S
        while not self._stop.is_set():
            try:
                subscriber = TelemetrySubscriber(self.container, self._store_mqtt, client_id=self.name)
            except OSError as exc:
                log.warning("MQTT broker unreachable (%s); retrying in %.1f s", exc, delay)
                if not retry:
                    return False
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            subscriber.client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
            self.subscriber = subscriber
            subscriber.start()
            return True
        return False

    def _pipeline_loop(self) -> None:
        delay = self.poll_s
        while not self._stop.is_set():
            try:
                turn = self.pipeline.run_once()
            except Exception as exc:
                if storage_refusal(exc, 1) is None:
                    log.exception("pipeline turn failed; the batches stay pending and are retried")
                elif delay == self.poll_s:  # one line per outage, not one per attempt
                    log.warning("database unavailable (%s); retrying with backoff", type(exc).__name__)
                turn = None
                delay = min(max(delay * 2, RECONNECT_MIN_S), RECONNECT_MAX_S)
            else:
                delay = self.poll_s
            if turn is None or turn.batches == 0:
                self._wake.wait(delay)
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
        # One configuration and one HTTP client (with its TLS context) for the runner's life: building
        # them every round cost 12-18 % of a worker's CPU.
        if self._sender is None:
            self._notify_config = NotifyConfig.from_container(self.container)
            self._sender = LiveSender(None)
        if self._sender.mqtt_client is None and time.monotonic() >= self._mqtt_retry_at:
            self._mqtt_retry_at = time.monotonic() + 60  # a missing broker is retried once a minute
            try:
                client = connect(self.container, f"{self.name}-alerts-{socket.gethostname()}")
                client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
                client.loop_start()
                self._sender.mqtt_client = client
            except OSError as exc:
                log.warning("MQTT broker unreachable for alert notifications: %s", exc)
        while fan_out(self.container, self._notify_config):
            pass
        deliver(self.container, self._notify_config, self._sender)

    def _store_mqtt(self, topic: str, headers: dict[str, str], body: bytes) -> None:
        """Store one MQTT message; a refusal raises a DomainError, which the subscriber answers."""
        if topic.startswith("owntracks/"):
            self._store_owntracks(topic, body)
        else:
            device_id = verify_message(self.container, topic, headers, body)
            service.ingest(self.container, device_id=device_id, body=body,
                           ndjson=headers.get("content-type") == "application/x-ndjson", channel="mqtt",
                           signature=headers.get(H_SIGNATURE, ""),
                           actor=Actor(kind="device", id=str(device_id), name=None))
        self.fault("stored")  # stored and committed, not yet acknowledged to the broker
        self.wake()

    def _store_owntracks(self, topic: str, body: bytes) -> None:
        # The broker authenticated the user and its ACL limits each user to owntracks/{user}/#
        # (docs/adapters.md); the user named in the topic is the device's adapter username.
        parts = topic.split("/")
        if len(parts) != 3:
            raise Forbidden(f"not an OwnTracks topic: {topic}")
        device = adapters.by_credentials(self.container, parts[1], None)
        adapters.store_owntracks(self.container, device, body, "ot-mqtt")


def fault_point(spec: str) -> Callable[[str], None]:
    """Fault injection for the crash tests, handed to `Runner(fault=...)` by their launcher:
    "step:n" kills the process (as kill -9 would) the n-th time it passes `step` (stored, trail,
    rules, commit); "step:n:hold" stops there instead, holding what it holds (a device's claim,
    an open transaction), until the test kills it with a real SIGKILL."""
    target, n, *mode = spec.split(":")
    seen: Counter[str] = Counter()

    def hit(step: str) -> None:
        seen[step] += 1
        if step == target and seen[step] == int(n):
            if mode == ["hold"]:
                log.warning("fault injected at %s #%s: holding", step, n)
                threading.Event().wait()
            log.warning("fault injected at %s #%s: exiting", step, n)
            os._exit(137)

    return hit


def run_worker(container: Container, name: str | None = None, fault: Callable[[str], None] | None = None) -> None:
    runner = Runner(container, mqtt=True, name=name or f"custodes-worker-{socket.gethostname()}", fault=fault)
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
    clock that does not move by itself (tests drive the pipeline themselves)."""
    container = app.state.container
    runner = None
    settings = container.settings
    if settings.pipeline == "embedded" and getattr(container.clock, "live", False):
        runner = Runner(container, mqtt=settings.serve_mqtt, name="custodes-serve")
        runner.start()
    app.state.telemetry_runner = runner
    try:
        yield
    finally:
        if runner is not None:
            runner.stop()
