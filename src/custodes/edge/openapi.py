"""The OpenAPI document names every problem answer a route can give, as application/problem+json.

Which answers apply is read from the route itself: officer or device authentication (401, 403),
path parameters (404), writes (409), the edge's body limits (408, 413) and throttling (429).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from custodes.access.deps import current_officer
from custodes.devices.signing import authenticated_device
from custodes.errors import PROBLEM
from custodes.subject_access.deps import current_subject

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}, "code": {"type": "string"}}}},
    },
}
WHY = {
    400: "The request could not be read (malformed form, multipart or header)",
    401: "Missing or invalid credentials",
    403: "The caller may not do this",
    404: "No such resource, or not visible to the caller",
    408: "The request body came too slowly",
    409: "Conflicts with the current state",
    413: "The request body is over this route's cap",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests; wait Retry-After seconds",
}
WHY_KEYS = {str(k) for k in WHY}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
THROTTLED_PATHS = {"/v1/auth/token", "/v1/my/token"}


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def statuses(route: Any, method: str) -> list[int]:
    calls = _calls(route.dependant)
    officer = current_officer in calls or current_subject in calls  # officers and the monitored person
    device = authenticated_device in calls
    out = {400, 408, 413, 422}  # the edge and validation apply to every route
    out |= {int(s) for s in route.responses if str(s) in WHY_KEYS}  # answers a route declares itself
    if officer or device:
        out |= {401, 403}
    if route.dependant.path_params or officer or device:
        out.add(404)
    if method in WRITES and (officer or device):
        out.add(409)
    if device or route.path in THROTTLED_PATHS:
        out |= {401, 429}
    return sorted(out)


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for route in iter_route_contexts(app.routes):  # routes of included routers, with their prefixes
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods:
                op = schema["paths"].get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                responses = op.setdefault("responses", {})
                for status in statuses(route, method):
                    answer: dict[str, Any] = {"description": WHY[status], "content": {
                        PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
                    if status == 429:
                        answer["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                             "description": "seconds to wait"}}
                    responses[str(status)] = answer
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
