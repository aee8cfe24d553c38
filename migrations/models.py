"""Every module that declares tables on ``core.db.Base``: imported so Alembic sees them all."""

from core import events, ledger  # noqa: F401
from core.db import Base

metadata = Base.metadata
