"""Alembic's environment for ``sheepfold db``: migrations run on the connection sheepfold hands over.

:class:`sheepfold_database.migrations.Migrations` opens the connection with
the app's own engine (so ``[database]`` settings, schema included, apply) and
passes it in ``config.attributes["connection"]``, outside any transaction:
each revision runs in a transaction of its own (``transaction_per_migration``),
so a revision may leave it for a statement PostgreSQL refuses inside one
(``CREATE INDEX CONCURRENTLY`` in ``op.get_context().autocommit_block()``),
and a failed revision leaves the ones before it applied. Offline (``--sql``)
mode is not offered.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `sheepfold db ...`, which provides the connection")
context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
