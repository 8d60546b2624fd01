"""Expand: split usage_records.tokens into prompt_tokens and completion_tokens.

The release before this one writes `tokens`; the release after writes the two new
columns. Both must work while this runs and while both versions serve traffic (a
canary), so the new columns are nullable and `tokens` stops being required. The
index for per-key usage queries is built without locking writes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEX = "ix_usage_records_key_id_created_at"


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as table:
        table.add_column(sa.Column("prompt_tokens", sa.Integer(), nullable=True))
        table.add_column(sa.Column("completion_tokens", sa.Integer(), nullable=True))
        table.alter_column("tokens", existing_type=sa.Integer(), nullable=True)
    if op.get_context().dialect.name == "postgresql":
        # CONCURRENTLY cannot run inside a transaction.
        with op.get_context().autocommit_block():
            op.create_index(INDEX, "usage_records", ["key_id", "created_at"], postgresql_concurrently=True)
    else:
        op.create_index(INDEX, "usage_records", ["key_id", "created_at"])


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(INDEX, table_name="usage_records", postgresql_concurrently=True)
    else:
        op.drop_index(INDEX, table_name="usage_records")
    op.execute(
        "UPDATE usage_records SET tokens = COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0) "
        "WHERE tokens IS NULL"
    )
    with op.batch_alter_table("usage_records") as table:
        table.alter_column("tokens", existing_type=sa.Integer(), nullable=False)
        table.drop_column("completion_tokens")
        table.drop_column("prompt_tokens")
