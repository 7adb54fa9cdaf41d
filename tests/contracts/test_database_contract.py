"""The database port's contract, on every adapter in ``DATABASE_ADAPTERS`` (SQLite in memory and in a file,
PostgreSQL): sessions, transactions, the engine, the driver connection, ping."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sheepfold.database import Database
from tests.contracts.adapters import DATABASE_ADAPTERS


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "contract_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


@pytest.fixture(params=sorted(DATABASE_ADAPTERS))
async def database(request):
    async with DATABASE_ADAPTERS[request.param](request) as adapter:
        async with adapter.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield adapter


async def count(database: Database) -> int:
    async with database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Item))


async def test_it_is_the_port(database):
    assert isinstance(database, Database)
    await database.ping()


async def test_a_committed_session_is_seen_by_the_next(database):
    async with database.sessions() as session:
        session.add(Item(id=1, name="one"))
        await session.commit()
    async with database.sessions() as session:
        assert (await session.get(Item, 1)).name == "one"


async def test_a_session_closed_without_commit_is_rolled_back(database):
    async with database.sessions() as session:
        session.add(Item(id=2, name="two"))
        await session.flush()
    assert await count(database) == 0


async def test_the_engine_runs_core_statements_in_a_transaction(database):
    async with database.engine.begin() as connection:
        await connection.execute(Item.__table__.insert(), [{"id": 3, "name": "a"}, {"id": 4, "name": "b"}])
    assert await count(database) == 2


async def test_the_driver_connection_goes_back_to_the_pool(database):
    for _ in range(5):  # more than the smallest pool holds: each one was returned
        async with database.driver_connection() as connection:
            assert connection is not None
    await database.ping()
