"""Long-term archiving (PAdES B-LTA): a document timestamp and fresh validation data are added to a
stored license as a new object; the license still verifies — by our verifier and by pdfsig — with
its certified revision unchanged; a license archived recently is not due again."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from core import ledger
from core.store import Zone
from licenses import verify_license
from licenses.archive import ARCHIVE_KIND, archive_due, due
from licenses.models import LicenseFile, LicenseRecord
from tests.licenses.conftest import LicEnv, business_request, make_env


def _last_signature(pdf: bytes) -> tuple[bytes, bytes]:
    """(the bytes the last /ByteRange covers, its /Contents DER trimmed to length)."""
    *_, m = re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    a, b, c, d = (int(x) for x in m.groups())
    der = bytes.fromhex(pdf[a + b : c].strip().lstrip(b"<").rstrip(b">").decode())
    n = der[1] & 0x7F
    length = 2 + n + int.from_bytes(der[2 : 2 + n], "big") if der[1] & 0x80 else 2 + der[1]
    return pdf[a : a + b] + pdf[c : c + d], der[:length]


def _pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[LicEnv]:
    e = make_env(tmp_path / "var")
    yield e
    e.db.dispose()


def test_archive_adds_a_document_timestamp_and_keeps_the_license_valid(env: LicEnv, tmp_path: Path) -> None:
    reg = env.registry
    lic = reg.issue(business_request())
    before = reg.get(lic.license_id, history=False)
    original = reg.file(lic.license_id)
    later = datetime.now(UTC) + timedelta(days=400)
    assert due(reg, every_days=365) == []  # issued today: not due
    assert due(reg, every_days=365, now=later) == [lic.license_id]

    rep = archive_due(reg, every_days=365, now=later)
    assert rep.as_dict() == {"due": 1, "archived": 1, "failed": {}}
    after = reg.get(lic.license_id, history=False)
    archived = reg.file(lic.license_id)
    assert after.object_key != before.object_key
    assert archived.startswith(original)  # an incremental update: the issued bytes are untouched
    assert after.certified_sha256 == before.certified_sha256
    assert reg.store.get_bytes(Zone.LICENSES, before.object_key) == original  # the old object stays

    report = verify_license(archived, trust=env.trust(), registry=reg)
    assert report.valid, report.as_dict()
    assert [t["valid"] for t in report.checks["document_timestamps"]] == [True]

    # tools we did not write: pdfsig still finds the certification valid (it cannot validate document
    # timestamps: "Unable to validate this type of signature"), and openssl checks the timestamp token
    # against the bytes it covers and our root
    (tmp_path / "a.pdf").write_bytes(archived)
    out = subprocess.run(
        ["pdfsig", "-nocert", str(tmp_path / "a.pdf")], capture_output=True, text=True, check=False
    )
    assert "Signature #1:" in out.stdout and "Signature #2:" in out.stdout, out.stdout
    first = out.stdout.split("Signature #2:")[0]
    assert "Signature Validation: Signature is Valid." in first and "Signature Field Name: ZZQZ" in first
    assert "时间戳服务" in out.stdout.split("Signature #2:")[1]
    signed, token = _last_signature(archived)
    (tmp_path / "covered.bin").write_bytes(signed)
    (tmp_path / "token.der").write_bytes(token)
    (tmp_path / "roots.pem").write_bytes(_pem(env.pki.trust_roots()))
    (tmp_path / "chain.pem").write_bytes(_pem(list(env.trust().intermediates)))
    ts = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(tmp_path / "covered.bin"),
            "-in",
            str(tmp_path / "token.der"),
            "-token_in",
            "-CAfile",
            str(tmp_path / "roots.pem"),
            "-untrusted",
            str(tmp_path / "chain.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ts.returncode == 0 and "Verification: OK" in ts.stdout, ts.stdout + ts.stderr

    with env.db.session() as s:
        kinds = [
            f.kind
            for f in s.scalars(
                select(LicenseFile)
                .join(LicenseRecord, LicenseRecord.id == LicenseFile.license_pk)
                .where(LicenseRecord.license_id == lic.license_id)
                .order_by(LicenseFile.id)
            )
        ]
        entries = [e for e in ledger.entries(s, "license.lifecycle") if e.kind == "license.archived"]
    assert kinds == ["issued", ARCHIVE_KIND]
    assert json.loads(entries[-1].payload)["to"] == after.object_key

    # archived "now" (later): not due again until every_days have passed since
    assert due(reg, every_days=365, now=later + timedelta(days=1)) == []
    assert archive_due(reg, every_days=365, now=later + timedelta(days=1)).as_dict()["due"] == 0
    assert due(reg, every_days=365, now=later + timedelta(days=366)) == [lic.license_id]
