"""Domain errors and their rendering as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
TYPE_BASE = "https://custodes.example/problems/"


class DomainError(Exception):
    status = 400
    kind = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers


class NotFound(DomainError):
    status, kind, title = 404, "not-found", "Not found"


class Unauthorized(DomainError):
    status, kind, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str = "missing or invalid credentials") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    status, kind, title = 403, "forbidden", "Forbidden"


class Conflict(DomainError):
    status, kind, title = 409, "conflict", "Conflict"


class Invalid(DomainError):
    status, kind, title = 422, "validation-error", "Invalid input"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


class TooManyRequests(DomainError):
    status, kind, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class Unavailable(DomainError):
    """The database cannot be reached (down, restarting, failing over): try again shortly."""

    status, kind, title = 503, "service-unavailable", "Service unavailable"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class InsufficientStorage(Unavailable):
    """The database's or the file store's disk is full: nothing of the request was kept."""

    status, kind, title = 507, "insufficient-storage", "Insufficient storage"


# SQLSTATE class 53 is "insufficient resources"; 53100 is disk_full. Class 08 (connection), 57P0x
# (shutdown, starting up) and 25006 (read-only: a standby before its promotion) mean "not now".
DISK_FULL = "53100"
NOT_NOW = ("08", "53", "57P01", "57P02", "57P03", "25006", "40001", "40P01")
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def storage_refusal(exc: BaseException, retry_after: int) -> Unavailable | None:
    """The refusal a failed storage call deserves (507 disk full, 503 database away), or None
    when the failure is a fault of ours (a 500 stays a bug)."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return InsufficientStorage("no space left to store this request; nothing of it was kept", retry_after)
    if not isinstance(exc, sa_exc.DBAPIError | sa_exc.TimeoutError):
        return None
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if sqlstate == DISK_FULL or (sqlstate == "" and "No space left on device" in str(exc)):
        return InsufficientStorage("the database is out of disk space; nothing of this request was kept", retry_after)
    if (isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)
            or getattr(exc, "connection_invalidated", False) or sqlstate.startswith(NOT_NOW)):
        return Unavailable("the database is unavailable; nothing of this request was kept, send it again",
                           retry_after)
    return None


def problem(status: int, title: str, detail: str, *, kind: str, instance: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    # Drop the transport part ("body", "query") and pydantic's union tags so the name is the field's own.
    parts = [str(p) for p in loc[1:] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    return ".".join(parts) or str(loc[0])


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        return problem(exc.status, exc.title, exc.detail, kind=exc.kind, instance=request.url.path,
                       headers=exc.headers, errors=exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"field": _field_name(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")}
                  for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Invalid input", detail, kind="validation-error", instance=request.url.path,
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = {401: "Authentication required", 403: "Forbidden", 404: "Not found",
                 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, str(exc.detail), kind=title.lower().replace(" ", "-"),
                       instance=request.url.path, headers=getattr(exc, "headers", None))

    async def _storage(request: Request, exc: Exception):
        # Rendered by whichever DomainError handler is installed (the console's shows a page).
        retry = request.app.state.container.settings.unavailable_retry_after_s
        refusal = storage_refusal(exc, retry)
        if refusal is None:
            log.error("unhandled error on %s", request.url.path, exc_info=exc)
            return await request.app.exception_handlers[Exception](request, exc)
        return await request.app.exception_handlers[DomainError](request, refusal)

    for kind in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError):
        app.add_exception_handler(kind, _storage)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return problem(500, "Internal error", "the server failed to handle this request",
                       kind="internal-error", instance=request.url.path)
