"""The hostile-input corpus (issue 20), run in CI: every case file and every PDF in
:mod:`tests.corpus.cases` and :mod:`tests.corpus.pdfs` ends in a clear outcome — the hostile line
quarantined with its cause, the good rows beside it curated; a PDF not valid with one fixed reason —
never an exception, a hang (each case has a timeout) or memory growing with the input."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
from sqlalchemy import select

from core.casestore import QuarantinedRow
from licenses import verify_license
from licenses._report import REASON_CODES
from quality.gate import Batch
from sandbox.generator import write_case_files
from tests.corpus.cases import CASE_FILES, GOOD_ROWS, CaseFile, hostile_batch
from tests.corpus.pdfs import PDF_CASES, PdfCase
from tests.licenses.conftest import LicEnv, business_request


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module")
def good_rows(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    path = tmp_path_factory.mktemp("corpus") / "clean.jsonl"
    write_case_files(path, 200, seed=11, bad_ratio=0.0)
    rows = [r for r in path.read_text().splitlines() if json.loads(r)["table"] == "up_pro_accept"]
    return [(r + "\n").encode() for r in rows[:GOOD_ROWS]]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", CASE_FILES, ids=[c.name for c in CASE_FILES])
def test_a_hostile_case_file_quarantines_its_line_and_keeps_the_good_rows(
    sqlite_gate, good_rows: list[bytes], case: CaseFile
) -> None:
    gate = sqlite_gate()
    gate.validate_batch(Batch(b"".join(good_rows), name="warm-up.jsonl"))  # imports and suites first
    data = hostile_batch(good_rows, case)
    before = _rss_mib()
    o = gate.validate_batch(Batch(data, name=f"{case.name}.jsonl", encoding=case.encoding))
    grown = _rss_mib() - before
    assert not o.file_quarantined
    assert o.rows == o.curated + o.held + o.quarantined
    # the good rows were curated by the warm-up: here they are duplicates of it (row.duplicate_guid)
    assert o.quarantined == GOOD_ROWS + case.quarantined, o.reasons
    assert o.reasons.get("row.duplicate_guid") == GOOD_ROWS, o.reasons
    if case.cause:
        with gate.db.session() as s:
            reasons = [
                r.reasons
                for r in s.scalars(select(QuarantinedRow).where(QuarantinedRow.batch_hash == o.batch_hash))
            ]
        assert any(case.cause in r for r in reasons), reasons
    # memory stays within a small multiple of the input (never a parse tree of a million columns)
    assert grown < 64 + 8 * len(data) / (1 << 20), f"{grown:.0f} MiB for {len(data)} bytes"


@pytest.fixture(scope="module")
def genuine(lic_env: LicEnv) -> bytes:
    lic = lic_env.registry.issue(business_request())
    pdf: bytes = lic_env.registry.file(lic.license_id)
    return pdf


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", PDF_CASES, ids=[c.name for c in PDF_CASES])
def test_a_hostile_pdf_is_not_valid_with_one_fixed_reason(
    lic_env: LicEnv, genuine: bytes, case: PdfCase
) -> None:
    pdf = case.build(genuine)
    before = _rss_mib()
    report = verify_license(pdf, trust=lic_env.trust(), registry=lic_env.registry)
    grown = _rss_mib() - before
    assert not report.valid
    assert report.reasons == [case.reason], report.as_dict()
    assert set(report.reasons) <= set(REASON_CODES)
    assert grown < 128 + 8 * len(pdf) / (1 << 20), f"{grown:.0f} MiB for {len(pdf)} bytes"


def test_the_corpus_names_are_unique_and_it_has_both_kinds() -> None:
    names = [c.name for c in CASE_FILES] + [c.name for c in PDF_CASES]
    assert len(names) == len(set(names)) and len(CASE_FILES) >= 10 and len(PDF_CASES) >= 10


def test_the_genuine_base_is_valid(lic_env: LicEnv, genuine: bytes, tmp_path: Path) -> None:
    """The PDF recipes start from a license that verifies: a failure above is the recipe's doing."""
    assert verify_license(genuine, trust=lic_env.trust(), registry=lic_env.registry).valid
