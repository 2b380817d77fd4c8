"""Alembic migrations of the store's schema, applied by :mod:`convo.store._migrate`."""
