"""The console's session and CSRF cookies, signed with a key derived from the server's token key.

The session cookie holds the session's secret, who signed in, the session's CSRF token and its
expiry; it is HttpOnly, SameSite=Lax, and Secure when the request came over TLS. The session is
valid only while its row (`access.models.ConsoleSession`, keyed by a digest of the secret) is open
and the account active, so signing out or disabling an officer ends it for every copy of the cookie.
Forms carry the CSRF token (synchroniser token bound to the session; before sign-in, to a
pre-session cookie), htmx sends it as the `X-CSRF-Token` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "custodes_session"
PRE_SESSION_COOKIE = "custodes_presession"
FLASH_COOKIE = "custodes_flash"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_HOURS = 8  # one shift; then sign in again


def _key(token_key: bytes, purpose: str) -> bytes:
    return hmac.new(token_key, f"custodes-console/{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(token_key: bytes, purpose: str, payload: dict) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = _b64(hmac.new(_key(token_key, purpose), body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def unsign(token_key: bytes, purpose: str, value: str | None) -> dict | None:
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    good = _b64(hmac.new(_key(token_key, purpose), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, good):
        return None
    try:
        data = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class SessionCookie:
    secret: str
    user_id: str
    csrf: str
    expires: datetime

    @property
    def digest(self) -> str:
        """The session row's key: the database never holds the secret itself."""
        return hashlib.sha256(self.secret.encode()).hexdigest()


def new_session(user_id: str, now: datetime) -> SessionCookie:
    return SessionCookie(secret=secrets.token_urlsafe(32), user_id=user_id, csrf=secrets.token_urlsafe(32),
                         expires=now + timedelta(hours=SESSION_HOURS))


def read_session(token_key: bytes, request: Request, now: datetime) -> SessionCookie | None:
    data = unsign(token_key, "session", request.cookies.get(SESSION_COOKIE))
    if not data:
        return None
    try:
        s = SessionCookie(secret=str(data["s"]), user_id=str(data["u"]), csrf=str(data["c"]),
                          expires=datetime.fromisoformat(data["e"]))
    except (KeyError, ValueError):
        return None
    return s if s.expires > now else None


def secure(request: Request) -> bool:
    # Behind a TLS-terminating proxy uvicorn sets the scheme from X-Forwarded-Proto (--proxy-headers).
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None,
               samesite: str = "lax") -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, secure=secure(request), samesite=samesite,
                        path="/")


def write_session(token_key: bytes, request: Request, response: Response, s: SessionCookie) -> None:
    value = sign(token_key, "session", {"s": s.secret, "u": s.user_id, "c": s.csrf, "e": s.expires.isoformat()})
    set_cookie(request, response, SESSION_COOKIE, value, max_age=SESSION_HOURS * 3600)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def pre_session_token(token_key: bytes, request: Request) -> tuple[str, bool]:
    """The CSRF token for forms shown before sign-in; True when its cookie must be (re)set."""
    data = unsign(token_key, "presession", request.cookies.get(PRE_SESSION_COOKIE))
    if data and isinstance(data.get("c"), str):
        return data["c"], False
    return secrets.token_urlsafe(32), True


def write_pre_session(token_key: bytes, request: Request, response: Response, token: str) -> None:
    set_cookie(request, response, PRE_SESSION_COOKIE, sign(token_key, "presession", {"c": token}), max_age=3600,
               samesite="strict")


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(expected.encode(), given.encode())


def read_flashes(token_key: bytes, request: Request) -> list[tuple[str, str]]:
    data = unsign(token_key, "flash", request.cookies.get(FLASH_COOKIE))
    items = data.get("m", []) if data else []
    return [(str(k), str(t)) for k, t in items if isinstance(k, str) and isinstance(t, str)][:5]


def write_flash(token_key: bytes, request: Request, response: Response, kind: str, text: str) -> None:
    # Signed, so a crafted link cannot put words in the console's mouth.
    set_cookie(request, response, FLASH_COOKIE, sign(token_key, "flash", {"m": [[kind, text]]}), max_age=300)
