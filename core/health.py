"""Health checks shared by ``tongban doctor``, the API's readiness probe and the heartbeat DAG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import ledger
from core.db import Database
from core.errors import CoreError
from core.keys.base import PLATFORM_KEY
from core.runtime import keystore
from core.settings import Settings

HEARTBEAT_STREAM = "system.heartbeat"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def _run(name: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(name, True, fn())
    except CoreError as exc:
        return Check(name, False, f"{exc} [{exc.code}]")
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def check_database(db: Database, head_revision: str) -> Check:
    def fn() -> str:
        db.ping()
        rev = db.current_revision()
        if rev is None:
            raise CoreError(
                f"database {db.safe_url} is not migrated: run `tongban init`", code="DB_NOT_MIGRATED"
            )
        if rev != head_revision:
            raise CoreError(
                f"database is at revision {rev}, code expects {head_revision}: run `tongban init`",
                code="DB_OUTDATED",
            )
        return f"{db.safe_url} at revision {rev}"

    return _run("database", fn)


def check_keystore(settings: Settings) -> Check:
    def fn() -> str:
        ks = keystore(settings)
        signer = ks.signer(PLATFORM_KEY)
        signer.sign(b"doctor")
        kid = ks.current_token_kid()
        if kid is None:
            raise CoreError("no access-token key: run `tongban init`", code="TOKEN_KEY_MISSING")
        return f"{settings.keys.backend} backend, platform key usable, token key {kid}"

    return _run("keys", fn)


def record_heartbeat(db: Database, source: str) -> dict[str, Any]:
    """Append a heartbeat to the ledger and verify that stream: proves database and ledger work."""
    with db.session() as s:
        entry = ledger.append(s, HEARTBEAT_STREAM, "heartbeat", {"source": source})
        seq = entry.seq
    with db.session() as s:
        (report,) = ledger.verify_chain(s, HEARTBEAT_STREAM)
    return {"stream": HEARTBEAT_STREAM, "seq": seq, "chain_ok": report.ok, "entries": report.entries}
