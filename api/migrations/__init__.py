"""Alembic migrations of the store (run by :func:`api.db.upgrade`)."""
