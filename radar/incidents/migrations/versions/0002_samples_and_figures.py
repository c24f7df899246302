"""Per-bucket samples of incidents and the figures kept with each incident.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "samples",
        sa.Column(
            "incident_id", sa.String(200), sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("t", sa.Double, primary_key=True),
        sa.Column("mentions", sa.Integer, nullable=False),
        sa.Column("negative", sa.Integer, nullable=False),
        sa.Column("expected", sa.Double, nullable=False),
        sa.Column("lower", sa.Double, nullable=False),
        sa.Column("upper", sa.Double, nullable=False),
        sa.Column("level", sa.Integer, nullable=False, server_default="0"),
    )
    # plain ADD COLUMNs (no table rebuild on SQLite: the timeline's rows stay untouched)
    op.add_column("incidents", sa.Column("peak_mentions", sa.Integer, nullable=False, server_default="0"))
    op.add_column("incidents", sa.Column("peak_expected", sa.Double, nullable=False, server_default="0"))
    op.add_column(
        "incidents", sa.Column("peak_negative_share", sa.Double, nullable=False, server_default="0")
    )
    op.add_column("incidents", sa.Column("total_mentions", sa.Integer, nullable=False, server_default="0"))
    op.add_column("incidents", sa.Column("total_negative", sa.Integer, nullable=False, server_default="0"))
    op.add_column(
        "incidents", sa.Column("samples_dropped", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        for column in (
            "samples_dropped", "total_negative", "total_mentions", "peak_negative_share", "peak_expected",
            "peak_mentions",
        ):  # fmt: skip
            table.drop_column(column)
    op.drop_table("samples")
