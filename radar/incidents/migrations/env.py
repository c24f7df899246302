"""Alembic environment of the incident store (a connection given by ``radar.incidents.store.migrate``)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through radar.incidents.store.migrate
    raise RuntimeError("run migrations through radar.incidents.store.migrate(engine)")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
