"""Alembic migration history: one history for every table of every package."""
