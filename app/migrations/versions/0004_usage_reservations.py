"""Expand: usage_records.state, so a record can be reserved before the upstream call and
settled after it. Rows of releases that write no state are settled ones (the default).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        "usage_records", sa.Column("state", sa.String(16), nullable=False, server_default=sa.text("'settled'"))
    )


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as table:
        table.drop_column("state")
