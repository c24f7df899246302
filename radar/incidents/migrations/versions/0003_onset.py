"""The onset of each incident (its first abnormal bucket), kept when the incident opens.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("onset_at", sa.Double, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        table.drop_column("onset_at")
