"""A plugin of test routes on the database: one query, a held connection, an N+1 loop and its JOIN."""

from __future__ import annotations

import asyncio

from blacksheep import Request, Response, Router, json
from sqlalchemy import ForeignKey, String, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sheepfold import Platform, hookimpl
from sheepfold.database import Database


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    title: Mapped[str] = mapped_column(String(40))


async def create_library(engine: AsyncEngine, authors: int) -> None:
    """The ``authors`` and ``books`` tables with ``authors`` authors of two books each."""
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as session:
        for number in range(1, authors + 1):
            session.add(Author(id=number, name=f"author {number}"))
            session.add_all([Book(author_id=number, title=f"book {number}.{i}") for i in (1, 2)])
        await session.commit()


@hookimpl
def sheepfold_register_routes(router: Router, platform: Platform) -> None:
    async def one(session: AsyncSession, database: Database) -> Response:
        value = (await session.execute(text("SELECT 1"))).scalar_one()
        return json({"value": value, "same_engine": session.bind is database.engine})

    async def hold(request: Request, session: AsyncSession) -> Response:
        # The session keeps its connection from the first statement until it is closed.
        await session.execute(text("SELECT 1"))
        await asyncio.sleep(float(request.query.get("seconds", ["0.2"])[0]))
        return json({"held": True, "session": id(session)})

    async def books_one_by_one(session: AsyncSession) -> Response:
        authors = (await session.scalars(select(Author).order_by(Author.id))).all()
        result = {}
        for author in authors:  # one query per author: the N+1 pattern
            books = (await session.scalars(select(Book).where(Book.author_id == author.id))).all()
            result[author.name] = [book.title for book in books]
        return json(result)

    async def books_joined(session: AsyncSession) -> Response:
        rows = (await session.execute(select(Author.name, Book.title).join(Book, Book.author_id == Author.id))).all()
        result: dict[str, list[str]] = {}
        for name, title in rows:
            result.setdefault(name, []).append(title)
        return json(result)

    async def write_then_fail(session: AsyncSession) -> Response:
        session.add(Author(id=999, name="never committed"))
        await session.flush()
        return json({"flushed": True})

    async def slow(request: Request, session: AsyncSession) -> Response:
        seconds = float(request.query.get("seconds", ["2"])[0])
        await session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
        return json({"slept": True})

    async def two_sessions(first: AsyncSession, second: AsyncSession) -> Response:
        return json({"same": first is second})

    async def lose_connection(session: AsyncSession) -> Response:
        # The server ends this very connection while the statement runs: a crash, as the pool sees it.
        await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return json({"survived": True})

    router.add_get("/db/one", one)
    router.add_get("/db/lose-connection", lose_connection)
    router.add_get("/db/two-sessions", two_sessions)
    router.add_get("/db/slow", slow)
    router.add_get("/db/hold", hold)
    router.add_get("/db/authors/{kind}/loop", books_one_by_one)
    router.add_get("/db/authors/joined", books_joined)
    router.add_post("/db/uncommitted", write_then_fail)
