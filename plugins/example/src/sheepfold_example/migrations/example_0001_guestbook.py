"""The guestbook table and the index of its hot query (an author's newest entries).

Revision ID: example_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "example_0001"
down_revision = None
# The plugin's own branch: its migrations move independently of every other plugin's.
branch_labels = ("example",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "example_guestbook_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # GET /example/guestbook?author=… reads an author's newest entries: WHERE author = ? ORDER BY
    # created_at DESC, id DESC LIMIT n. This index answers it in order, without a sort or a scan.
    op.create_index(
        "ix_example_guestbook_author_newest",
        "example_guestbook_entries",
        ["author", sa.text("created_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_example_guestbook_author_newest", table_name="example_guestbook_entries")
    op.drop_table("example_guestbook_entries")
