"""Who is acting: an officer, a device, the monitored person, or the system itself."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass


class Role(enum.StrEnum):
    CASEWORKER = "caseworker"
    REVIEWER = "reviewer"
    PROBATION = "probation"
    POLICE = "police"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "device" | "subject" | "system"
    id: str | None
    name: str | None
    agency_id: uuid.UUID | None = None
    role: Role | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(kind="system", id=None, name=name)

    @classmethod
    def anonymous(cls, name: str | None = None) -> Actor:
        return cls(kind="anonymous", id=None, name=name)
