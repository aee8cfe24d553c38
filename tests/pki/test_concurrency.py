"""Revocations from many writers at once: each gets its own CRL number and the newest CRL lists them all.

Runs on SQLite and PostgreSQL (the ``db`` fixture): every writer has its own engine and
connections, as separate processes would.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.db import Database
from licenses.pki import Pki
from tests.pki.conftest import make_settings


def test_concurrent_revocations_all_land_in_the_newest_crl(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", database_url=db.url)
    settings.data_path.mkdir(parents=True)
    with Pki(settings, db=db) as pki:
        pki.init()
        first = pki.crl().number
        serials = [pki.seal(d.code).serial for d in pki.departments][:8]
    barrier = threading.Barrier(len(serials))

    def revoke(serial: str) -> int:
        own = Database(db.url, crypt=db.crypt)
        try:
            with Pki(settings, db=own) as writer:
                writer.keystore.signer("pki.issuing-ca")  # key loaded before the race starts
                barrier.wait(timeout=30)
                return writer.revoke(serial, "affiliationChanged").crl.number
        finally:
            own.dispose()

    with ThreadPoolExecutor(len(serials)) as pool:
        numbers = list(pool.map(revoke, serials))

    assert sorted(numbers) == list(range(first + 1, first + 1 + len(serials)))  # one CRL each, no reuse
    with Pki(settings, db=db) as pki:
        newest = pki.crl(refresh=False)
        assert newest.number == first + len(serials)
        listed = {f"{entry.serial_number:X}" for entry in newest.crl}
        assert listed == set(serials)
        for serial in serials:
            assert pki.is_revoked(serial)
