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
from licenses.archive import ARCHIVE_KIND, archive_due, due, due_by_evidence
from licenses.errors import LicenseError
from licenses.models import LicenseFile, LicenseRecord
from licenses.pki import Pki
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
    assert rep.as_dict() == {"due": 1, "archived": 1, "failed": {}, "reasons": {lic.license_id: ["age"]}}
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


# --- renewal by evidence (issue 17, item 3) ---------------------------------------------------------


def _short_lived_tsa(env: LicEnv, days_left: int) -> None:
    """A new TSA generation whose certificate expires in ``days_left`` days: issued by our issuing CA
    through a PKI whose clock is set back (the TSA certificate lives 5 years)."""
    from licenses.pki.hierarchy import TSA_DAYS

    back = datetime.now(UTC) - timedelta(days=TSA_DAYS - days_left)
    with Pki(env.settings, db=env.db, clock=lambda: back) as pki:
        pki.rotate_seal("tsa")
    env.registry.refresh_material()


def _fresh_tsa(env: LicEnv) -> None:
    with Pki(env.settings, db=env.db) as pki:
        pki.rotate_seal("tsa")
    env.registry.refresh_material()


def test_a_license_whose_tsa_certificate_nears_expiry_is_archived_and_one_that_does_not_is_not(
    env: LicEnv,
) -> None:
    from licenses._evidence import read_evidence

    reg = env.registry
    steady = reg.issue(business_request())  # stamped by the 5-year TSA of `pki init`
    _short_lived_tsa(env, days_left=20)
    nearing = reg.issue(business_request())  # stamped by a TSA whose certificate ends in 20 days
    ev = read_evidence(reg.file(nearing.license_id))
    assert ev.tsa_certificate is not None
    left = ev.tsa_certificate.not_valid_after - datetime.now(UTC)
    assert timedelta(days=19) < left <= timedelta(days=20)
    _fresh_tsa(env)  # the operator rotated the TSA: new timestamps come from a 5-year certificate

    # neither is due by age; by evidence only the one whose TSA certificate ends within the margin
    assert due(reg, every_days=365) == []
    rep = archive_due(reg, every_days=365, margin_days=30)
    assert rep.archived == [nearing.license_id], rep.as_dict()
    assert [r.split(":")[0] for r in rep.reasons[nearing.license_id]] == ["tsa_certificate"]
    assert not rep.warnings
    assert reg.get(steady.license_id).object_key == steady.object_key  # untouched
    archived = reg.file(nearing.license_id)
    report = verify_license(archived, trust=env.trust(), registry=reg)
    assert report.valid, report.as_dict()
    assert [t["valid"] for t in report.checks["document_timestamps"]] == [True]
    after = read_evidence(archived)
    assert after.newest_is_document_timestamp and after.tsa_certificate is not None
    assert after.tsa_certificate.not_valid_after - datetime.now(UTC) > timedelta(days=365)
    # once archived, the license is covered: running again changes nothing
    assert archive_due(reg, every_days=365, margin_days=30).as_dict()["due"] == 0
    # and later, when the 5-year TSA certificates near their end, both are due again
    five_years = datetime.now(UTC) + timedelta(days=5 * 365)
    assert set(due_by_evidence(reg, margin_days=30, now=five_years)) >= {
        steady.license_id,
        nearing.license_id,
    }


def test_a_margin_smaller_than_the_time_left_archives_nothing_and_a_tsa_still_expiring_is_named(
    env: LicEnv,
) -> None:
    reg = env.registry
    _short_lived_tsa(env, days_left=20)
    lic = reg.issue(business_request())
    assert lic.license_id not in due_by_evidence(reg, margin_days=10)
    assert lic.license_id in due_by_evidence(reg, margin_days=25)
    # the TSA's own certificate is the one ending: a new timestamp would not help — a warning, no stamp
    rep = archive_due(reg, every_days=365, margin_days=25)
    assert rep.archived == [] and any("rotate-seal tsa" in w for w in rep.warnings), rep.as_dict()
    _fresh_tsa(env)
    assert archive_due(reg, every_days=365, margin_days=25).archived == [lic.license_id]


def test_a_deprecated_algorithm_makes_a_license_due(env: LicEnv) -> None:
    reg = env.registry
    lic = reg.issue(business_request())
    assert lic.license_id not in due_by_evidence(reg, margin_days=30, deprecated=["sha1", "md5"])
    flagged = due_by_evidence(reg, margin_days=30, deprecated=["ecdsa"])
    assert any(r.startswith("algorithm:") and "ecdsa" in r for r in flagged[lic.license_id])
    # re-stamping with the same (deprecated) algorithm would renew nothing: left alone, with a warning
    rep = archive_due(reg, every_days=365, margin_days=30, deprecated=["ecdsa"])
    assert rep.archived == [] and any("deprecated ecdsa" in w for w in rep.warnings), rep.as_dict()
    with pytest.raises(LicenseError) as exc:
        archive_due(reg, every_days=365, margin_days=30, deprecated=["sha256"])
    assert exc.value.code == "LICENSE_ARCHIVE_ALGORITHM"


def test_a_document_timestamp_in_the_same_second_as_the_seal_timestamp_is_the_newest_layer(
    env: LicEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TSA's genTime has one-second resolution: an archive run within the second of issuance stamps
    the same time as the seal's own timestamp; the document timestamp (later in the file) still
    protects everything before it (this once read as 'no document timestamp' on a fast machine)."""
    from licenses._evidence import read_evidence
    from licenses.archive import archive

    reg = env.registry
    lic = reg.issue(business_request())
    seal_time = read_evidence(reg.file(lic.license_id)).newest_time
    assert seal_time is not None
    tsa = reg.seals.pki.tsa()  # type: ignore[attr-defined]
    monkeypatch.setattr(tsa, "_clock", lambda: seal_time)
    archive(reg, lic.license_id)
    after = read_evidence(reg.file(lic.license_id))
    assert after.newest_time == seal_time  # the tie this test is about
    assert after.newest_is_document_timestamp
    assert after.tsa_certificate is not None
