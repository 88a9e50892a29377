"""The FastAPI application: the edge (limits, headers), routers, problem+json errors and health."""

from __future__ import annotations

from fastapi import FastAPI

from custodes import __version__, errors
from custodes.access.views import router as access_router
from custodes.adapters.views import router as adapters_router
from custodes.alerts.views import router as alerts_router
from custodes.audit.views import router as audit_router
from custodes.bootstrap import Container, bootstrap
from custodes.checkins.reporting_views import router as reporting_router
from custodes.checkins.views import router as checkins_router
from custodes.console import mount as mount_console
from custodes.devices.views import router as devices_router
from custodes.grants.views import router as grants_router
from custodes.edge import openapi
from custodes.edge.headers import SecurityHeaders
from custodes.edge.limits import BodyLimits
from custodes.orders.views import router as orders_router
from custodes.proximity.views import router as proximity_router
from custodes.reports.views import router as reports_router
from custodes.retention.views import router as retention_router
from custodes.review.views import router as review_router
from custodes.runner import lifespan
from custodes.subject_access.staff_views import router as subject_access_staff_router
from custodes.subject_access.views import router as subject_access_router
from custodes.subjects.views import router as subjects_router
from custodes.telemetry.views import router as telemetry_router


def create_app(container: Container | None = None) -> FastAPI:
    app = FastAPI(title="Custodes", version=__version__, openapi_url="/openapi.json", docs_url="/docs", lifespan=lifespan,
                  description="Accountable electronic monitoring. Every error is RFC 9457 problem+json.")
    app.state.container = container or bootstrap()
    errors.install(app)
    # Added last is outermost: headers go on every answer, the edge's own 408/413/422 included.
    app.add_middleware(BodyLimits)
    app.add_middleware(SecurityHeaders)
    for router in (access_router, subjects_router, orders_router, devices_router, alerts_router, audit_router):
        app.include_router(router)
    app.include_router(checkins_router)
    app.include_router(review_router)
    app.include_router(telemetry_router)
    app.include_router(adapters_router)
    app.include_router(proximity_router)
    for router in (reporting_router, subject_access_router, subject_access_staff_router):
        app.include_router(router)
    mount_console(app)  # the officers' console under `/` (pages; the API stays under /v1)
    app.include_router(grants_router)
    app.include_router(retention_router)
    app.include_router(reports_router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str | float]:
        """Alive, with the server's own clock: a simulation at accelerated time keeps to it."""
        clock = app.state.container.clock
        return {"status": "ok", "version": __version__, "time": clock.now().isoformat(),
                "clock_speed": float(getattr(clock, "speed", 1.0))}

    openapi.install(app)
    return app
