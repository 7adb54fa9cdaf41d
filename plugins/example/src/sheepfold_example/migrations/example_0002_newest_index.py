"""The index of the guestbook's newest entries of every author, built without locking out writes.

On a table that is already large and busy, ``CREATE INDEX`` blocks every
insert, update and delete until it ends; ``CREATE INDEX CONCURRENTLY`` does
not, but PostgreSQL refuses it inside a transaction block. So the build runs
in ``op.get_context().autocommit_block()``, which commits the revision's
transaction so far, runs the block in autocommit, and begins a new
transaction for the rest (sheepfold runs each revision in a transaction of
its own, so nothing of another revision is committed early).

A concurrent build that fails (a deadlock, a cancelled statement) leaves an
*invalid* index behind under the name, which ``IF NOT EXISTS`` would then
keep: the revision first drops any index of that name, concurrently too, and
builds it again. Nothing else goes in an autocommit block: each statement
there commits on its own.

Revision ID: example_0002
Revises: example_0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "example_0002"
down_revision = "example_0001"
branch_labels = None
depends_on = None

INDEX = "ix_example_guestbook_newest"


def upgrade() -> None:
    # GET /example/guestbook/recent: ORDER BY created_at DESC, id DESC LIMIT n, over every author.
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="example_guestbook_entries", if_exists=True, postgresql_concurrently=True)
        op.create_index(
            INDEX,
            "example_guestbook_entries",
            [sa.text("created_at DESC"), sa.text("id DESC")],
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="example_guestbook_entries", if_exists=True, postgresql_concurrently=True)
