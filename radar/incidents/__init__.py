"""Incidents after the fact, for service directors: the store (SQL, Alembic migrations), what the
radar records into it, the figures derived from it, the pages, exports and post-mortem drafts."""
