"""A guestbook on the database: how a plugin author uses ``sheepfold-database``.

- ``POST /example/guestbook`` with ``{"author": "ann", "message": "hi"}`` adds
  an entry (201).
- ``GET /example/guestbook?author=ann`` lists that author's newest entries:
  the hot query, which the index of ``migrations/example_0001_guestbook.py``
  answers without a sort. Its result is cached (``QueryCache``) under the
  query's name and the author, tagged with the table it reads; a new entry,
  committed through the request's session, drops it on every instance.
- ``GET /example/guestbook/recent`` lists the newest entries of everyone,
  cached the same way; ``migrations/example_0002_newest_index.py`` adds its
  index with ``CREATE INDEX CONCURRENTLY``, as a busy table needs.

Handlers declare ``session: AsyncSession`` and get one per request from
BlackSheep's dependency injection; it is closed (rolled back unless
committed) when the handler returns. The table comes from the plugin's
migration folder, offered through the ``sheepfold_migrations`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from blacksheep import Request, Response, Router, json
from sqlalchemy import BigInteger, DateTime, Index, Integer, Select, String, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sheepfold import JSONBody, Length, Pattern, Platform, json_response, problem, problem_response, route_docs
from sheepfold.database import Database
from sheepfold_database import QueryCache

MIGRATIONS = Path(__file__).parent / "migrations"
LATEST_LIMIT = 20
_MAX_AUTHOR, _MAX_MESSAGE = 64, 500


# PostgreSQL text holds no NUL character: refused as a shape error, not a database error.
_NO_NUL = Pattern(r"^[^\u0000]*$", "text without a NUL character")


@dataclass
class Signature:
    """The body of ``POST /example/guestbook``."""

    author: Annotated[str, Length(1, _MAX_AUTHOR), _NO_NUL]
    message: Annotated[str, Length(1, _MAX_MESSAGE), _NO_NUL]


@dataclass
class Entry:
    id: int
    author: str
    message: str
    created_at: str


@dataclass
class Entries:
    author: str
    entries: list[Entry]


@dataclass
class Recent:
    entries: list[Entry]


class Base(DeclarativeBase):
    pass


class GuestbookEntry(Base):
    """One row of ``example_guestbook_entries`` (created by the plugin's migration, not by ``create_all``)."""

    __tablename__ = "example_guestbook_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    author: Mapped[str] = mapped_column(String(_MAX_AUTHOR))
    message: Mapped[str] = mapped_column(String(_MAX_MESSAGE))
    created_at: Mapped[object] = mapped_column(DateTime(timezone=True), server_default=func.now())

    # What the migrations build, declared again so that `sheepfold db check` can compare the two.
    __table_args__ = (
        Index("ix_example_guestbook_author_newest", "author", text("created_at DESC"), text("id DESC")),
        Index("ix_example_guestbook_newest", text("created_at DESC"), text("id DESC")),
    )

    def to_json(self) -> dict[str, object]:
        created = self.created_at.isoformat() if hasattr(self.created_at, "isoformat") else str(self.created_at)
        return {"id": self.id, "author": self.author, "message": self.message, "created_at": created}


def latest_entries(author: str, limit: int = LATEST_LIMIT) -> Select[GuestbookEntry]:
    """The hot query: ``author``'s newest entries, newest first (the index's order exactly)."""
    return (
        select(GuestbookEntry)
        .where(GuestbookEntry.author == author)
        .order_by(GuestbookEntry.created_at.desc(), GuestbookEntry.id.desc())
        .limit(limit)
    )


def recent_entries(limit: int = LATEST_LIMIT) -> Select[GuestbookEntry]:
    """The newest entries of every author, newest first (``ix_example_guestbook_newest``'s order)."""
    return select(GuestbookEntry).order_by(GuestbookEntry.created_at.desc(), GuestbookEntry.id.desc()).limit(limit)


def _text(value: object, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value else None


def add_routes(router: Router, platform: Platform) -> None:
    """Add the guestbook routes when ``sheepfold-database`` is enabled."""
    if platform.find(Database) is None:
        return
    queries = platform.find(QueryCache)  # None only when the app runs without a cache capability
    ttl = platform.settings.get("example.cache_ttl")

    async def entries_of(name: str, query: Select[GuestbookEntry], session: AsyncSession, *key: str) -> list[object]:
        async def load() -> list[object]:
            return [entry.to_json() for entry in await session.scalars(query)]

        if queries is None:
            return await load()
        # `sign` needs no invalidation of its own: its session's commit drops every result that read the table.
        entries: list[object] = await queries.fetch(name, load, key=key, tables=[GuestbookEntry.__tablename__], ttl=ttl)
        return entries

    @route_docs(summary="Sign the guestbook", responses={201: json_response("The new entry", Entry)})
    async def sign(body: JSONBody[Signature], session: AsyncSession) -> Response:
        entry = GuestbookEntry(author=body.value.author, message=body.value.message)
        session.add(entry)
        await session.commit()
        return json(entry.to_json(), status=201)

    @route_docs(
        summary="An author's newest entries",
        query={"author": Annotated[str, Length(1, _MAX_AUTHOR), _NO_NUL]},
        responses={200: json_response("The entries", Entries), 400: problem_response("No author named.")},
    )
    async def read(request: Request, session: AsyncSession) -> Response:
        author = _text(request.query.get("author", [""])[0], _MAX_AUTHOR)
        if author is None:
            return problem(400, f"Name an author: ?author=<1-{_MAX_AUTHOR} characters>.")
        entries = await entries_of("example.guestbook", latest_entries(author), session, author)
        return json({"author": author, "entries": entries})

    @route_docs(summary="The newest entries of every author", responses={200: json_response("The entries", Recent)})
    async def recent(session: AsyncSession) -> Response:
        return json({"entries": await entries_of("example.guestbook.recent", recent_entries(), session)})

    router.add_post("/example/guestbook", sign)
    router.add_get("/example/guestbook", read)
    router.add_get("/example/guestbook/recent", recent)
