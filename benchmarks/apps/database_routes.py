"""One ``SELECT`` per request: through sheepfold's engine, and from bare BlackSheep on a raw asyncpg pool.

Both read the database URL and the pool size from the environment
(``BENCH_POSTGRES_URL``, ``BENCH_POOL_SIZE``) so the two sides get the same
database and the same number of connections.
"""

from __future__ import annotations

import os

import asyncpg
from blacksheep import Application, Response, Router, json, text
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from sheepfold import create_app, hookimpl
from sheepfold.database import Database
from sheepfold_database import plugin as database_plugin

URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "10"))
QUERY = "SELECT 1"


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
    """BlackSheep and SQLAlchemy's own async engine (defaults, same pool size): the session route without sheepfold.

    What SQLAlchemy's AsyncSession costs by itself (BEGIN, SELECT, ROLLBACK,
    the ORM's work), so the run can tell it from what sheepfold adds.
    """
    app = Application(router=Router())
    engine = create_async_engine(URL, pool_size=POOL_SIZE, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def select() -> Response:
        async with sessions() as session:
            value = (await session.execute(sql(QUERY))).scalar_one()
        return text(str(value))

    async def dispose(_application: Application) -> None:
        await engine.dispose()

    app.on_stop += dispose
    app.router.add_get("/select", select)
    return app


class SelectRoutes:
    name = "bench-database-select"

    @hookimpl
    def sheepfold_register_routes(self, router: Router) -> None:
        async def select(session: AsyncSession) -> Response:
            value = (await session.execute(sql(QUERY))).scalar_one()
            return text(str(value))

        async def select_driver(database: Database) -> Response:
            async with database.driver_connection() as connection:
                value = await connection.fetchval(QUERY)
            return text(str(value))

        router.add_get("/select", select)
        router.add_get("/select-driver", select_driver)


def platform() -> Application:
    """sheepfold with only its built-in plugins and sheepfold-database, pool of ``POOL_SIZE``, no overflow."""
    settings = {
        "database": {
            "url": URL,
            "pool_size": POOL_SIZE,
            "max_overflow": 0,
            "pool_timeout": 30,
            "application_name": "sheepfold-bench",
            "pre_ping": os.environ.get("BENCH_PRE_PING", "true") == "true",
            "monitor": {"interval": 0.5},
        }
    }
    return create_app(settings, plugins=[database_plugin, SelectRoutes()], load_entry_points=False)
