"""Storage plumbing: the declarative base, portable column types and engine creation.

SQLite (embedded default, WAL) and PostgreSQL (production) are both first-class.
"""

from custodes.db.base import Base, JSONType, UTCDateTime, new_id
from custodes.db.engine import make_engine, make_session_factory

__all__ = ["Base", "JSONType", "UTCDateTime", "new_id", "make_engine", "make_session_factory"]
