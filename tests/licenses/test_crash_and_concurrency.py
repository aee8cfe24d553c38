"""Crash consistency at the issuing failpoints, and concurrent issuers on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.failpoints import CRASH_EXIT_CODE
from core.ledger import verify_chain
from core.store import Zone
from licenses import verify_license
from licenses.models import LicenseFile, LicenseIntent, LicenseOrphan, LicenseRecord
from licenses.registration import AFTER_REGISTER, AFTER_STORE, BEFORE_COMMIT
from tests.licenses.conftest import LicEnv, make_env
from tests.licenses.issue_child import requests

ROOT = Path(__file__).resolve().parents[2]


def child(
    env: LicEnv,
    n: int,
    *,
    failpoint: str | None = None,
    offset: int = 0,
    prefix: str = "case",
    batch: int = 4,
    wait: bool = True,
) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    e = dict(os.environ)
    e["TONGBAN_DATA_DIR"] = str(env.settings.data_dir)
    e["TONGBAN_KEYS__PASSPHRASE"] = env.settings.keys.passphrase.get_secret_value()  # type: ignore[union-attr]
    if env.settings.database_url:
        e["TONGBAN_DATABASE_URL"] = env.settings.database_url
    e.pop("TONGBAN_FAILPOINTS", None)
    if failpoint:
        e["TONGBAN_FAILPOINTS"] = failpoint
    cmd = [
        sys.executable,
        "-m",
        "tests.licenses.issue_child",
        str(n),
        "--offset",
        str(offset),
        "--prefix",
        prefix,
        "--batch",
        str(batch),
    ]
    if not wait:
        return subprocess.Popen(
            cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(cmd, cwd=ROOT, env=e, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    "failpoint", [f"{AFTER_STORE}=3*crash", f"{AFTER_REGISTER}=2*crash", f"{BEFORE_COMMIT}=2*crash"]
)
def test_crash_then_resume_leaves_every_license_once(tmp_path: Path, failpoint: str) -> None:
    env = make_env(tmp_path / "var")
    try:
        n = 8
        crashed = child(env, n, failpoint=failpoint)
        assert isinstance(crashed, subprocess.CompletedProcess)
        assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
        assert "failpoint" in crashed.stderr
        resumed = env.registry.issue_many(requests(n))  # the resumed run (same idempotency keys)
        assert all(o.ok for o in resumed), [o.error for o in resumed]

        reg = env.registry
        with env.db.session() as s:
            recs = list(s.scalars(select(LicenseRecord)))
            assert len(recs) == n  # every case once
            assert len({r.idempotency_key for r in recs}) == n
            assert len({r.license_id for r in recs}) == n
            assert (
                s.scalar(
                    select(func.count()).select_from(LicenseIntent).where(LicenseIntent.state != "registered")
                )
                == 0
            )
            files = set(s.scalars(select(LicenseFile.object_key)))
            assert all(r.object_key in files for r in recs)
            assert all(c.ok for c in verify_chain(s, "license.lifecycle"))
        for r in recs:  # stored, intact, and the registered file verifies
            reg.store.verify(Zone.LICENSES, r.object_key)
        sample = reg.file(recs[0].license_id)
        assert verify_license(sample, trust=env.trust(), registry=reg).valid

        # files stored before the crash that nothing registered: found, recorded void, never valid
        report = reg.reconcile_orphans(grace=timedelta(0))
        stored = {o.key for o in reg.store.ls(Zone.LICENSES)}
        assert stored == files | {o["object_key"] for o in report.orphans}
        with env.db.session() as s:
            assert s.scalar(select(func.count()).select_from(LicenseOrphan)) == len(report.orphans)
        if failpoint.startswith(AFTER_STORE):
            assert 3 <= len(report.orphans) <= 4  # the batch's files stored before the crash
        for orphan in report.orphans:
            assert orphan["disposition"] == "void-kept"  # the licenses zone refuses deletes
            pdf = reg.store.get_bytes(Zone.LICENSES, orphan["object_key"])
            result = verify_license(pdf, trust=env.trust(), registry=reg)
            assert not result.valid and set(result.reasons) <= {"registry_mismatch", "unknown_license"}
        assert reg.reconcile_orphans(grace=timedelta(0)).orphans == []  # recorded once
    finally:
        env.db.dispose()


@pytest.mark.pg
def test_two_processes_issue_concurrently_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    from tests.conftest import _truncate

    _truncate(pg_url)
    env = make_env(tmp_path / "var", db_url=pg_url)
    try:
        # both processes issue 24 licenses; 12 of the companies are the same in both (uniqueness race)
        a = child(env, 24, offset=0, prefix="a", batch=6, wait=False)
        b = child(env, 24, offset=12, prefix="b", batch=6, wait=False)
        outs = []
        for p in (a, b):
            assert isinstance(p, subprocess.Popen)
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-2000:]
            outs += [json.loads(x) for x in out.splitlines()]
        issued = [o for o in outs if "license_id" in o]
        refused = [o for o in outs if o.get("error") == "LICENSE_UNIQUENESS"]
        assert len(issued) + len(refused) == 48
        assert len(issued) == 36 and len(refused) == 12  # 36 distinct companies, 12 duplicates refused
        with env.db.session() as s:
            recs = list(s.scalars(select(LicenseRecord)))
            serials = [(r.type_code, r.issuer_code, r.serial) for r in recs]
            assert len(serials) == len(set(serials)) == 36  # no serial twice
            live = [(r.type_code, r.uniqueness_hash) for r in recs if r.status in ("01", "02", "06")]
            assert len(live) == len(set(live))  # no uniqueness breach
            assert all(c.ok for c in verify_chain(s, "license.lifecycle"))
    finally:
        env.db.dispose()
