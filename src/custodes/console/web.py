"""The page toolkit every console page uses: the signed-in `Page`, role checks, rendering, flash
messages, redirects, the CSRF-checked router and the time filters.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from custodes.access import service as access
from custodes.actor import Actor, Role
from custodes.access.deps import ContainerDep
from custodes.access.models import ConsoleSession, User
from custodes.bootstrap import Container
from custodes.console import session as cookies
from custodes.errors import DomainError, Forbidden
from custodes.uow import UnitOfWork

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: tuple[Role, ...] | None = None  # None: every officer


# Top-level pages in the order the nav shows them; other console modules append with add_nav().
NAV: list[NavItem] = [NavItem("/caseload", "Caseload", (Role.CASEWORKER, Role.REVIEWER, Role.PROBATION, Role.ADMIN))]


def add_nav(path: str, label: str, roles: tuple[Role, ...] | None = None) -> None:
    if all(n.path != path for n in NAV):
        NAV.append(NavItem(path, label, roles))


class SignInRequired(DomainError):
    status, kind, title = 401, "unauthorized", "Sign in required"


class CsrfRefused(DomainError):
    status, kind, title = 403, "csrf", "Form check failed"


# -- time -------------------------------------------------------------------------------------
def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


def local(dt: datetime | None, tz: str = "UTC", fmt: str = "%d %b %Y %H:%M %Z") -> str:
    if dt is None:
        return "—"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(zone(tz)).strftime(fmt)


def age(dt: datetime | None, now: datetime) -> str:
    """'4 min ago', '3 h ago', '2 days ago'."""
    if dt is None:
        return "never"
    s = int((now - dt).total_seconds())
    if s < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            n = s // size
            return f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''} ago"
    return f"{s} s ago"


# -- the signed-in page -------------------------------------------------------------------------
@dataclass
class Page:
    request: Request
    container: Container
    officer: Actor
    user: User
    cookie: cookies.SessionCookie
    uow: UnitOfWork
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def csrf(self) -> str:
        return self.cookie.csrf

    @property
    def now(self) -> datetime:
        return self.container.clock.now()

    @property
    def tz(self) -> str:
        """The officer's time zone for displayed times."""
        return self.container.settings.console_time_zone

    def render(self, template: str, *, status: int = 200, **ctx: Any) -> HTMLResponse:
        return render(self.request, self.container, template, status=status, officer=self.officer,
                      csrf=self.csrf, **ctx)

    def redirect(self, url: str, message: str | None = None, kind: str = "success") -> Response:
        return redirect(self.request, self.container, url, message, kind)


def signed_in(request: Request, container: Container) -> tuple[Actor, User, cookies.SessionCookie] | None:
    """(officer, account, cookie) of an open session whose account is still active, else None."""
    now = container.clock.now()
    s = cookies.read_session(container.token_key, request, now)
    if s is None:
        return None
    try:
        uid = uuid.UUID(s.user_id)
    except ValueError:
        return None
    with container.uow(Actor.system("console-auth")) as uow:
        row = uow.session.get(ConsoleSession, s.digest)
        if row is None or row.user_id != uid or row.ended_at is not None or row.expires_at <= now:
            return None  # signed out, or never issued by this server
        user = access.load_officer(uow=uow, user_id=uid)
    if user is None:  # disabled since signing in
        return None
    actor = Actor(kind="user", id=str(user.id), name=user.username, agency_id=user.agency_id, role=Role(user.role))
    return actor, user, s


def page_context(request: Request, container: ContainerDep) -> Iterator[Page]:
    who = signed_in(request, container)
    if who is None:
        raise SignInRequired("sign in to use the console")
    actor, user, cookie = who
    with container.uow(actor) as uow:
        yield Page(request=request, container=container, officer=actor, user=user, cookie=cookie, uow=uow)


PageDep = Annotated[Page, Depends(page_context)]


def page_requires(*roles: Role):
    """Declare on the route which roles may open it (the same roles as the API's `requires`)."""

    def _check(page: PageDep) -> Page:
        if page.officer.role not in roles:
            raise Forbidden(f"your role ({page.officer.role}) may not open this page")
        return page

    return Depends(_check)


# -- CSRF ------------------------------------------------------------------------------------
def expected_csrf(request: Request, container: Container) -> list[str]:
    """The tokens this browser's forms may carry: its session's, and its pre-session one (shown on
    pages rendered while signed out, e.g. after a session ended elsewhere). Both live in cookies that
    another site can neither read nor set."""
    tokens = []
    s = cookies.read_session(container.token_key, request, container.clock.now())
    if s is not None:
        tokens.append(s.csrf)
    data = cookies.unsign(container.token_key, "presession", request.cookies.get(cookies.PRE_SESSION_COOKIE))
    if data and isinstance(data.get("c"), str):
        tokens.append(data["c"])
    return tokens


async def csrf_protect(request: Request, container: ContainerDep) -> None:
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(cookies.CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get(cookies.CSRF_FIELD)
    given = given if isinstance(given, str) else None
    if not any(cookies.tokens_match(token, given) for token in expected_csrf(request, container)):
        raise CsrfRefused("the form's security token was missing or out of date; reload the page and try again")


def console_router(**kwargs: Any) -> APIRouter:
    """A router whose every POST/PUT/PATCH/DELETE must carry the CSRF token. Pages are not API."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)], **kwargs)


# -- rendering -------------------------------------------------------------------------------
def nav_for(officer: Actor | None) -> list[NavItem]:
    if officer is None:
        return []
    return [n for n in NAV if n.roles is None or officer.role in n.roles]


def render(request: Request, container: Container, template: str, *, status: int = 200,
           officer: Actor | None = None, csrf: str | None = None, **ctx: Any) -> HTMLResponse:
    set_pre = False
    if csrf is None:
        csrf, set_pre = cookies.pre_session_token(container.token_key, request)
    flashes = cookies.read_flashes(container.token_key, request)
    settings = container.settings
    now = container.clock.now()
    tz = settings.console_time_zone
    token = csrf
    context = {
        "request": request, "officer": officer, "nav": nav_for(officer), "csrf_token": token,
        "csrf_field": lambda: Markup('<input type="hidden" name="%s" value="%s">') % (cookies.CSRF_FIELD, token),
        "flashes": flashes, "now": now, "officer_tz": tz, "tile_url": settings.map_tile_url,
        "local": lambda dt, zone_name=None, fmt="%d %b %Y %H:%M %Z": local(dt, zone_name or tz, fmt),
        "utc": lambda dt: local(dt, "UTC", "%Y-%m-%d %H:%M:%S UTC"),
        "age": lambda dt: age(dt, now), "path": request.url.path, **ctx,
    }
    response = templates.TemplateResponse(request, template, context, status_code=status)
    if flashes:
        response.delete_cookie(cookies.FLASH_COOKIE, path="/")
    if set_pre:
        cookies.write_pre_session(container.token_key, request, response, csrf)
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def redirect(request: Request, container: Container, url: str, message: str | None = None,
             kind: str = "success") -> Response:
    """303 See Other to `url` (htmx: a client redirect), with a flash message shown there."""
    if is_htmx(request):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if message:
        cookies.write_flash(container.token_key, request, response, kind, message)
    return response


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/sign-in?next=" + quote(target, safe="")


def safe_next(target: str | None) -> str:
    """A same-site path to go back to after sign-in, or "" (never an open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target


def landing(officer: Actor) -> str:
    """Where an officer starts: the first page their role may open, else the start page."""
    items = nav_for(officer)
    return items[0].path if items else "/start"
