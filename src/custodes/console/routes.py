"""Mounting the console on the app: its routers, static files, error pages and security headers."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custodes.console import (
    alert_queue,
    caseload,
    errors,
    face_review,
    inventory,
    my,
    order_reviews,
    reporting,
    subject,
    views,
    web,
)

ROUTERS = [views.router, caseload.router, subject.router, my.router, reporting.router,
           alert_queue.router, face_review.router, order_reviews.router, inventory.router]


class SecurityHeaders:
    """Strict headers on console responses: no inline script, no framing, no third-party origins."""

    def __init__(self, app: ASGIApp, tile_origin: str = "") -> None:
        self.app = app
        img = f"img-src 'self' data: blob: {tile_origin}".strip()
        self.csp = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                    f"{img}; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(errors.API_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", self.csp.encode()),
                            (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                            (b"referrer-policy", b"same-origin")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _origin(url: str) -> str:
    if "://" not in url:
        return ""
    scheme, rest = url.split("://", 1)
    host = rest.split("/", 1)[0].replace("{s}", "*")
    return f"{scheme}://{host}"


def mount(app: FastAPI) -> None:
    errors.install(app)
    app.mount("/static", StaticFiles(directory=str(web.HERE / "static"), check_dir=False), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(SecurityHeaders, tile_origin=_origin(app.state.container.settings.map_tile_url))
