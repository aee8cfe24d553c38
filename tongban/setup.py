"""Composition of ``init`` and ``doctor``: what a fresh data dir needs and how to check it."""

from __future__ import annotations

from typing import Any

from core import health
from core.keys.base import PLATFORM_KEY
from core.runtime import fieldcrypt, keystore, open_database
from core.settings import Settings
from core.store import check_store
from licenses.pki import Pki, PkiNotInitialised, check_pki
from migrations import runner


def init(settings: Settings) -> dict[str, Any]:
    """Data dir, migrations, platform key, token key and the development PKI. Safe to run again."""
    steps = []
    settings.data_path.mkdir(parents=True, exist_ok=True)
    steps.append(f"data dir {settings.data_path}")
    runner.upgrade(settings.db_url, crypt=fieldcrypt(settings))  # 0010 seals rows found in clear
    steps.append(f"database migrated to {runner.head_revision()}")
    ks = keystore(settings, create=True)
    existed = ks.has_key(PLATFORM_KEY)
    ks.create_signing_key(PLATFORM_KEY, exist_ok=True)
    steps.append(f"platform signing key {'present' if existed else 'created'}")
    kid = ks.current_token_kid()
    if kid is None:
        kid = ks.rotate_token_key()
        steps.append(f"access-token key created (kid {kid})")
    else:
        steps.append(f"access-token key present (kid {kid})")
    with Pki(settings, keystore=ks) as pki:
        try:
            steps.extend(pki.init())
        except PkiNotInitialised as exc:  # TONGBAN_PKI__SAMPLE=false and no CA imported yet
            steps.append(f"PKI not initialised: {exc}")
    return {"data_dir": str(settings.data_path), "steps": steps}


def doctor(settings: Settings) -> list[health.Check]:
    db = open_database(settings)
    try:
        return [
            health.Check("settings", True, ", ".join(f"{k}={v}" for k, v in settings.describe().items())),
            health.check_database(db, runner.head_revision()),
            health.check_keystore(settings),
            check_store(settings),
            check_pki(settings),
        ]
    finally:
        db.dispose()
