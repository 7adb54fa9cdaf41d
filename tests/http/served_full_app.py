"""``uvicorn tests.http.served_full_app:app``: every shipped plugin on memory, for test_openapi_conformance."""

from __future__ import annotations

import os

os.environ.setdefault("SHEEPFOLD_ENV", "testing")

from sheepfold import Platform, hookimpl
from tests.support.full_app import full_app


class ApplyMigrations:
    """Runs the plugins' migrations on the in-memory database as the app starts (after the database plugin)."""

    @hookimpl
    async def sheepfold_startup(self, platform: Platform) -> None:
        from sheepfold_database import Migrations

        await Migrations.of(platform).upgrade()


app = full_app(plugins=[ApplyMigrations()])
