"""Contract: backfill the split token columns, require them, drop usage_records.tokens.

Runs once no release that writes `tokens` is serving any more.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE usage_records SET prompt_tokens = COALESCE(tokens, 0) WHERE prompt_tokens IS NULL")
    op.execute("UPDATE usage_records SET completion_tokens = 0 WHERE completion_tokens IS NULL")
    with op.batch_alter_table("usage_records") as table:
        table.alter_column("prompt_tokens", existing_type=sa.Integer(), nullable=False)
        table.alter_column("completion_tokens", existing_type=sa.Integer(), nullable=False)
        table.drop_column("tokens")


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as table:
        table.add_column(sa.Column("tokens", sa.Integer(), nullable=True))
        table.alter_column("prompt_tokens", existing_type=sa.Integer(), nullable=True)
        table.alter_column("completion_tokens", existing_type=sa.Integer(), nullable=True)
    op.execute("UPDATE usage_records SET tokens = prompt_tokens + completion_tokens")
