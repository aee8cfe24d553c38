"""Run the Alembic history programmatically (``tongban init``, tests).

Packages add their tables as revisions that may branch from the foundation revision; we always
upgrade to *every* head, and a database is current when its revisions equal the set of heads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads", *, crypt: Any = None, progress: Any = None) -> None:
    """Upgrade ``url`` to ``revision``; ``crypt`` (a :class:`core.fieldcrypt.FieldCrypt`) seals the
    rows revision ``0010`` finds in clear (without it, the environment's settings are opened when
    there is one), ``progress(label, done, total)`` hears how far it got."""
    cfg = alembic_config(url)
    if crypt is not None:
        cfg.attributes["crypt"] = crypt
    if progress is not None:
        cfg.attributes["progress"] = progress
    command.upgrade(cfg, revision)


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def head_revision() -> str:
    """The heads as one comparable string (sorted, comma separated)."""
    return ",".join(sorted(head_revisions()))
