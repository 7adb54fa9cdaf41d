"""Server-side session records: the port and the in-memory adapter."""

from sheepfold.sessions.memory import MemorySessionRecords
from sheepfold.sessions.port import SessionRecord, SessionRecords

__all__ = ["MemorySessionRecords", "SessionRecord", "SessionRecords"]
