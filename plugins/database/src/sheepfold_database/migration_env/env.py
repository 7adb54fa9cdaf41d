"""Alembic's environment for ``sheepfold db``: migrations run on the connection sheepfold hands over.

:class:`sheepfold_database.migrations.Migrations` opens the connection with
the app's own engine (so ``[database]`` settings, schema included, apply) and
passes it in ``config.attributes["connection"]``. Offline (``--sql``) mode is
not offered.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `sheepfold db ...`, which provides the connection")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
