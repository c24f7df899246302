"""Alembic environment of the incident store: run with a connection given by ``radar.store.migrate``."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through radar.store.migrate
    raise RuntimeError("run migrations through radar.store.migrate(engine)")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
