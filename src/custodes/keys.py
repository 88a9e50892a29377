"""Server-side secrets (token signing, audit chain, encryption keys).

A secret comes from the environment (base64url) or from a file under the key folder, created with
mode 0600 on first use. Never from the database: a database dump alone must not be enough to forge.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path


def private_dir(path: Path) -> None:
    """A folder only the service user can enter (keys, and the home that holds them)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def load_secret(name: str, key_dir: Path, nbytes: int = 32) -> bytes:
    env = os.environ.get(f"CUSTODES_{name.upper()}_KEY")
    if env:
        return base64.urlsafe_b64decode(env + "=" * (-len(env) % 4))
    path = key_dir / f"{name}.key"
    if not path.exists():
        private_dir(key_dir)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.urlsafe_b64encode(secrets.token_bytes(nbytes)))
    return base64.urlsafe_b64decode(path.read_bytes().strip())
