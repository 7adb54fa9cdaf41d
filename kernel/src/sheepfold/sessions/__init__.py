"""Server-side session records: the port and the in-memory adapter."""

from sheepfold.sessions.memory import MemorySessionRecords, SessionJournal
from sheepfold.sessions.port import SessionRecord, SessionRecords

__all__ = ["MemorySessionRecords", "SessionJournal", "SessionRecord", "SessionRecords"]
