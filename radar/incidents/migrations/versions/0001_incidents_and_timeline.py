"""Incidents and their append-only timeline.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("stream", sa.String(64), nullable=False, index=True),
        sa.Column("stream_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("peak_level", sa.String(16), nullable=False, index=True),
        sa.Column("peak_rank", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opened_at", sa.Double, nullable=False, index=True),
        sa.Column("detected_at", sa.Double, nullable=True),
        sa.Column("acknowledged_at", sa.Double, nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("resolved_at", sa.Double, nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("bucket_seconds", sa.Integer, nullable=False, server_default="60"),
        sa.Column("why", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_table(
        "timeline",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", sa.String(200), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("level", sa.String(16), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("timeline_incident_at", "timeline", ["incident_id", "at"])


def downgrade() -> None:
    op.drop_table("timeline")
    op.drop_table("incidents")
