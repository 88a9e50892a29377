"""Errors on console pages are pages: 404, 403, a refused form, invalid input; the API keeps problem+json.

The console registers its handlers over the API's and hands anything under the API's paths back
to the API's own handlers.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from custodes.console import web
from custodes.errors import DomainError

API_PREFIXES = ("/v1/", "/v1", "/openapi.json", "/docs", "/redoc", "/healthz", "/metrics")

# What to do next, by status: every error page says it.
NEXT_STEP = {
    400: "Check what you entered and try again.",
    403: "If you need this, ask your agency's administrator for the role; otherwise go back to your caseload.",
    404: "It may not exist, or it belongs to a case your agency cannot see. Check the reference, or search "
         "your caseload.",
    409: "Someone may have changed it already: reload the page to see its current state.",
    422: "Correct the fields named above and send the form again.",
    429: "Wait the time shown, then try again.",
    503: "Custodes cannot reach its database just now. Nothing was saved: wait the time shown, then try again.",
    507: "Custodes has run out of storage space. Nothing was saved: tell support, then try again later.",
    500: "This is a fault in Custodes, not something you did. Try again; if it persists, tell support "
         "the time it happened.",
}


def is_console(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def error_page(request: Request, status: int, title: str, detail: str,
               headers: dict[str, str] | None = None) -> Response:
    container = request.app.state.container
    try:
        who = web.signed_in(request, container)
    except Exception:  # the page that says "the database is away" must not need the database
        who = None
    officer, csrf = (who[0], who[2].csrf) if who else (None, None)
    response = web.render(request, container, "error.html", status=status, officer=officer, csrf=csrf,
                          title=title, status_code=status, detail=detail,
                          next_step=NEXT_STEP.get(status, NEXT_STEP[400]))
    for k, v in (headers or {}).items():
        if k.lower() == "retry-after":
            response.headers[k] = v
    return response


def install(app: FastAPI) -> None:
    api_domain = app.exception_handlers[DomainError]
    api_validation = app.exception_handlers[RequestValidationError]
    api_http = app.exception_handlers[StarletteHTTPException]
    api_unexpected = app.exception_handlers[Exception]

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        if not is_console(request):
            return await api_domain(request, exc)
        if isinstance(exc, web.SignInRequired):
            # The monitored person's pages have a sign-in of their own.
            url = exc.url(request) if hasattr(exc, "url") else web.sign_in_url(request)
            if web.is_htmx(request):
                return Response(status_code=204, headers={"HX-Redirect": url})
            return RedirectResponse(url, status_code=303)
        return error_page(request, exc.status, exc.title, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if not is_console(request):
            return await api_validation(request, exc)
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
                           for e in exc.errors())
        return error_page(request, 422, "Some of what was sent is not valid", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if not is_console(request):
            return await api_http(request, exc)
        title = {404: "Page not found", 405: "Not allowed here"}.get(exc.status_code, "Error")
        detail = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, title, detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        if not is_console(request):
            return await api_unexpected(request, exc)
        return error_page(request, 500, "Something went wrong", "The server failed to handle this request.")
