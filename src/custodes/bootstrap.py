"""Wiring: one place that builds the real (or test) adapters the application runs on."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from custodes.actor import Actor
from custodes.clock import Clock, SystemClock
from custodes.config import Settings
from custodes.db import make_engine, make_session_factory
from custodes.edge.rates import RateLimiter
from custodes.keys import load_secret
from custodes.uow import UnitOfWork


@dataclass
class Container:
    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    audit_key: bytes
    token_key: bytes
    device_key: bytes
    device_rates: RateLimiter = field(default_factory=lambda: RateLimiter(burst=60, per_second=1.0))
    extras: dict[str, object] = field(default_factory=dict)

    def uow(self, actor: Actor) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.clock, self.audit_key, actor)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> Container:
    settings = settings or Settings.from_env()
    pool = {} if settings.database_url.startswith("sqlite") else {
        "pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
    engine = make_engine(settings.database_url, connect_timeout_s=settings.db_connect_timeout_s, **pool)
    container = Container(
        settings=settings,
        clock=clock or SystemClock(),
        engine=engine,
        session_factory=make_session_factory(engine),
        audit_key=load_secret("audit", settings.key_dir),
        token_key=load_secret("token", settings.key_dir),
        device_key=load_secret("device", settings.key_dir),
        device_rates=RateLimiter(burst=settings.device_burst, per_second=settings.device_per_second),
    )
    _wire(container)
    return container


def _wire(container: Container) -> None:
    """Ports one domain provides to another, so neither imports the other's internals."""
    from custodes.checkins.review_evidence import CheckInEvidence
    from custodes.review.ports import CONTAINER_KEY

    container.extras[CONTAINER_KEY] = CheckInEvidence(container)
