"""The FastAPI application: the edge (limits, headers), routers, problem+json errors and health."""

from __future__ import annotations

from fastapi import FastAPI

from custodes import __version__, errors
from custodes.access.views import router as access_router
from custodes.alerts.views import router as alerts_router
from custodes.audit.views import router as audit_router
from custodes.bootstrap import Container, bootstrap
from custodes.checkins.views import router as checkins_router
from custodes.devices.views import router as devices_router
from custodes.edge import openapi
from custodes.edge.headers import SecurityHeaders
from custodes.edge.limits import BodyLimits
from custodes.orders.views import router as orders_router
from custodes.review.views import router as review_router
from custodes.runner import lifespan
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

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    openapi.install(app)
    return app
