"""Routes: officers turn a device's adapter on or off; Traccar Client and OwnTracks post positions.

The phone routes take no signature (the apps cannot sign), so they insist on TLS: a request is
refused unless it came over HTTPS, or from this machine (a local TLS-terminating proxy, or tests) and
does not say it was forwarded over plain HTTP.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import uuid
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from custodes.actor import Role
from custodes.access.deps import ContainerDep, Uow, requires
from custodes.adapters import osmand, service
from custodes.adapters.decoding import AdapterInputError, parse_json
from custodes.adapters.models import AdapterEnable, AdapterIssued, AdapterRead
from custodes.errors import DomainError, Invalid, Unauthorized

router = APIRouter(prefix="/v1", tags=["adapters"])
KEEPERS = (Role.CASEWORKER, Role.ADMIN)
MAX_BODY = 256 * 1024  # a phone sends one position, or a short buffer of them


class TlsRequired(DomainError):
    status, kind, title = 403, "tls-required", "TLS required"


class TooLarge(DomainError):
    status, kind, title = 413, "payload-too-large", "Payload too large"


@router.put("/devices/{device_id}/adapter", response_model=AdapterIssued, dependencies=[requires(*KEEPERS)])
def enable_adapter(device_id: uuid.UUID, data: AdapterEnable, uow: Uow, container: ContainerDep) -> AdapterIssued:
    """Turn on Traccar Client (OsmAnd) or OwnTracks for this device. The credentials are shown once."""
    issued = service.enable(uow=uow, container=container, device_id=device_id, data=data)
    uow.commit()
    return issued


@router.get("/devices/{device_id}/adapter", response_model=AdapterRead, dependencies=[requires(*KEEPERS)])
def read_adapter(device_id: uuid.UUID, uow: Uow) -> AdapterRead:
    return AdapterRead.model_validate(service.read_shape(service.load(uow=uow, device_id=device_id)))


@router.delete("/devices/{device_id}/adapter", status_code=204, dependencies=[requires(*KEEPERS)])
def disable_adapter(device_id: uuid.UUID, uow: Uow) -> Response:
    """Turn the adapter off; its credentials stop working at once."""
    service.disable(uow=uow, device_id=device_id)
    uow.commit()
    return Response(status_code=204)


# The phone routes check their own credentials (no signature), so their answers are declared here.
PHONE_ANSWERS = {200: {"description": "stored"}, 401: {}, 403: {}, 409: {}, 429: {}}


@router.api_route("/adapters/osmand", methods=["GET", "POST"], responses=PHONE_ANSWERS,
                  operation_id="osmand_position")
async def osmand_position(request: Request, container: ContainerDep) -> Response:
    """Traccar Client: `?id=<token>&lat=..&lon=..&timestamp=..&accuracy=..&batt=..&charge=..`, a form
    POST of the same, or Traccar Client 9's JSON body. The `id` is the adapter token."""
    require_tls(request)
    body = await read_capped(request)
    now = container.clock.now()
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            doc = parse_json(body)
            token, items = osmand.token_from_json(doc), osmand.decode_json(doc, received_at=now)
        else:
            params = parse_qs(request.url.query) or parse_qs(body.decode("ascii", "replace"))
            token, items = osmand.token_from_query(params), osmand.decode_query(params, received_at=now)
    except AdapterInputError as exc:
        raise Invalid(str(exc)) from None
    device = await run_in_threadpool(service.by_token, container, token)
    await run_in_threadpool(service.ingest, container, device, items, channel="osmand")
    wake(request)
    return Response(status_code=200)


@router.post("/adapters/owntracks", responses={**PHONE_ANSWERS, 200: {"description": "stored; the app expects a JSON array"}})
async def owntracks_position(request: Request, container: ContainerDep) -> JSONResponse:
    """OwnTracks in HTTP mode, with the device's own Basic credentials."""
    require_tls(request)
    username, password = basic_credentials(request)
    body = await read_capped(request)
    device = await run_in_threadpool(service.by_credentials, container, username, password)
    await run_in_threadpool(service.store_owntracks, container, device, body, "ot-http")
    wake(request)
    return JSONResponse([])


def require_tls(request: Request) -> None:
    if request.url.scheme == "https":
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or request.headers.get("x-forwarded-proto", "https").lower() != "https":
        raise TlsRequired("phone adapters carry no signature: use HTTPS")


def basic_credentials(request: Request) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "basic":
            raise ValueError
        username, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        if not sep or not username:
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unauthorized("OwnTracks needs its Basic credentials") from None
    return username, password


async def read_capped(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise TooLarge(f"body over {MAX_BODY} bytes")
    return body


def wake(request: Request) -> None:
    runner = getattr(request.app.state, "telemetry_runner", None)
    if runner is not None:
        runner.wake()
