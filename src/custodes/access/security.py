"""Password hashing (argon2id) and short-lived officer tokens (JWT, HS256)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ISSUER = "custodes"
# Published in the README for `custodes demo`; refused by every database not marked as a demo.
DEMO_PASSWORD = "demo-password-2027"
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password-000")


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the hasher (the test suite uses argon2's cheapest profile; hashing dominates its run)."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("not-a-real-password-000")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_token(key: bytes, *, user_id: uuid.UUID, agency_id: uuid.UUID, role: str, now: datetime,
                minutes: int) -> str:
    claims = {"iss": ISSUER, "sub": str(user_id), "agency": str(agency_id), "role": role,
              "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=minutes)).timestamp()),
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="HS256")


def read_token(key: bytes, token: str, now: datetime) -> dict:
    """Decode and check a token against the injected clock; raises jwt.InvalidTokenError."""
    # Time claims are checked here against the injected clock, not by PyJWT against the wall clock.
    claims = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER,
                        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                 "require": ["exp", "sub", "iat"]})
    if claims["exp"] <= now.timestamp():
        raise jwt.ExpiredSignatureError("token expired")
    if claims["iat"] > now.timestamp() + 30:
        raise jwt.ImmatureSignatureError("token issued in the future")
    return claims
