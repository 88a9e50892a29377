"""What review needs from the domain whose cases it reviews, as an interface it is given.

The check-ins domain provides the implementation (`checkins/review_evidence.py`), wired into the
container at bootstrap; review never imports check-in storage or crypto itself.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from custodes.uow import UnitOfWork

CONTAINER_KEY = "review.evidence"


class CaseEvidence(Protocol):
    def decision_record(self, uow: UnitOfWork, prompt_id: uuid.UUID) -> dict[str, Any] | None:
        """The machine's decision record for the prompt (score, threshold, quality, liveness...)."""

    def photo_ids(self, uow: UnitOfWork, *, subject_id: uuid.UUID,
                  attempt_id: uuid.UUID | None) -> tuple[list[uuid.UUID], uuid.UUID | None]:
        """The reference photos compared against (or the current ones) and the probe."""

    def open_photo(self, uow: UnitOfWork, photo_id: uuid.UUID, purpose: str) -> tuple[bytes, str] | None:
        """One photo's bytes and content type for a person to look at (audited), or None if gone."""


def evidence_of(container: Any) -> CaseEvidence:
    found = container.extras.get(CONTAINER_KEY)
    if found is None:
        raise RuntimeError("no case evidence provider wired into the container (see bootstrap)")
    return found
