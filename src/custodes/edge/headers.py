"""Security headers on every response, and no caching of anything but the console's static files.

The CSP suits a JSON API and the server-rendered console (htmx + Leaflet served from /static):
scripts, styles and images from the service itself only (tiles and markers may be data: or blob:),
no inline script, no framing. The interactive API docs need their CDN bundle and an inline
bootstrap script, so /docs and /redoc alone get a looser policy; they hold no personal data.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "img-src 'self' data: https://fastapi.tiangolo.com; "
            "connect-src 'self'; worker-src blob:; base-uri 'none'; frame-ancestors 'none'")
DOCS = ("/docs", "/redoc")
STATIC = "/static/"

ALWAYS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", DOCS_CSP if path.startswith(DOCS) else CSP)
                if not path.startswith(STATIC):
                    # Answers carry personal data (and the token answer a credential, RFC 6749 5.1):
                    # no browser or proxy may keep them.
                    headers.setdefault("Cache-Control", "no-store")
                    headers.setdefault("Pragma", "no-cache")
            await send(message)

        await self.app(scope, receive, with_headers)
