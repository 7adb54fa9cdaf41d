"""One ``SELECT`` per request: through sheepfold's engine, SQLAlchemy alone, and a raw asyncpg pool.

Every app reads the database URL and the pool size from the environment
(``BENCH_POSTGRES_URL``, ``BENCH_POOL_SIZE``) so the sides get the same
database and the same number of connections. The ORM routes read one row of
:class:`BenchItem` (table ``sheepfold_bench_item``, made at start-up if
missing) with ``select(BenchItem)``.
"""

from __future__ import annotations

import os

import asyncpg
from blacksheep import Application, Response, Router, json, text
from sqlalchemy import String, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sheepfold import create_app, hookimpl
from sheepfold.database import Database
from sheepfold.platform import Platform
from sheepfold_database import plugin as database_plugin

URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "10"))
QUERY = "SELECT 1"


class Base(DeclarativeBase):
    pass


class BenchItem(Base):
    """The mapped class the ORM routes read."""

    __tablename__ = "sheepfold_bench_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


ITEM = select(BenchItem).where(BenchItem.id == 1)


async def create_item(engine: AsyncEngine) -> None:
    """The table and its one row, made once (concurrent starts tolerated: the row is upserted)."""
    async with engine.begin() as connection:
        await connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7204611)")  # two apps starting together
        await connection.run_sync(Base.metadata.create_all)
        await connection.exec_driver_sql(
            "INSERT INTO sheepfold_bench_item (id, name) VALUES (1, 'fleece') ON CONFLICT DO NOTHING"
        )


async def select_text(session: AsyncSession) -> Response:
    value = (await session.execute(sql(QUERY))).scalar_one()
    return text(str(value))


async def select_orm(session: AsyncSession) -> Response:
    item = (await session.scalars(ITEM)).one()
    return text(item.name)


def bare() -> Application:
    """BlackSheep and an asyncpg pool of ``POOL_SIZE`` connections; ``/peak`` says how many were in use at once."""
    app = Application(router=Router())
    use = {"now": 0, "peak": 0}

    async def open_pool(application: Application) -> None:
        dsn = URL.replace("postgresql+asyncpg://", "postgresql://", 1)
        application.state_pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)

    async def close_pool(application: Application) -> None:
        await application.state_pool.close()

    async def select() -> Response:
        async with app.state_pool.acquire() as connection:
            use["now"] += 1
            use["peak"] = max(use["peak"], use["now"])
            try:
                value = await connection.fetchval(QUERY)
            finally:
                use["now"] -= 1
        return text(str(value))

    async def peak() -> Response:
        return json({"peak": use["peak"], "size": POOL_SIZE})

    app.on_start += open_pool
    app.on_stop += close_pool
    app.router.add_get("/select", select)
    app.router.add_get("/peak", peak)
    return app


def bare_sqlalchemy() -> Application:
    """BlackSheep and SQLAlchemy's own async engine (defaults, same pool size): the session routes without sheepfold.

    What SQLAlchemy's AsyncSession costs by itself (BEGIN, SELECT, ROLLBACK,
    the ORM's work), so the run can tell it from what sheepfold adds.
    """
    app = Application(router=Router())
    engine = create_async_engine(URL, pool_size=POOL_SIZE, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def select() -> Response:
        async with sessions() as session:
            return await select_text(session)

    async def orm() -> Response:
        async with sessions() as session:
            return await select_orm(session)

    async def start(_application: Application) -> None:
        await create_item(engine)

    async def dispose(_application: Application) -> None:
        await engine.dispose()

    app.on_start += start
    app.on_stop += dispose
    app.router.add_get("/select", select)
    app.router.add_get("/orm", orm)
    return app


class SelectRoutes:
    name = "bench-database-select"

    @hookimpl
    def sheepfold_register_routes(self, router: Router) -> None:
        async def select_driver(database: Database) -> Response:
            async with database.driver_connection() as connection:
                value = await connection.fetchval(QUERY)
            return text(str(value))

        router.add_get("/select", select_text)
        router.add_get("/orm", select_orm)
        router.add_get("/select-driver", select_driver)

    @hookimpl
    async def sheepfold_startup(self, platform: Platform) -> None:
        await create_item(platform.require(AsyncEngine))


def platform() -> Application:
    """sheepfold with only its built-in plugins and sheepfold-database, pool of ``POOL_SIZE``, no overflow.

    The N+1 watch, the statement timeout and the pool monitor at their defaults, as deployed.
    """
    settings = {
        "database": {
            "url": URL,
            "pool_size": POOL_SIZE,
            "max_overflow": 0,
            "pool_timeout": 30,
            "application_name": "sheepfold-bench",
            "pre_ping": os.environ.get("BENCH_PRE_PING", "true") == "true",
        }
    }
    return create_app(settings, plugins=[database_plugin, SelectRoutes()], load_entry_points=False)
