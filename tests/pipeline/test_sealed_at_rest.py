"""Issue 17 acceptance: after a demo-sized run of the whole pipeline (the demo's parts: a generated
county day, the sandbox peers, every flow step the DAGs call, without Airflow), no resident ID number
of the generated data — and no valid GB 11643 number at all — is in clear in the database file (and
its WAL), any store zone but ``licenses``, the logs or the reports. Holder look-ups still find the
licenses through the blind index."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from core.sealing import SEALED
from tests.airflow.pipeline_world import world
from tests.privacy_scan import resident_ids_in, scan_bytes, scan_paths


def _run_chain(ctx: object) -> None:
    from pipeline import catalog, inbound, ingest, issue, materials, push, quality, sla

    for peer in ingest.county_ids(ctx):  # type: ignore[arg-type]
        ingest.ingest_county(ctx, peer)  # type: ignore[arg-type]
    quality.validate_pending(ctx)  # type: ignore[arg-type]
    materials.run(ctx)  # type: ignore[arg-type]
    push.enqueue_curated(ctx)  # type: ignore[arg-type]
    push.deliver(ctx)  # type: ignore[arg-type]
    for peer in inbound.department_ids(ctx):  # type: ignore[arg-type]
        inbound.pull_approvals(ctx, peer)  # type: ignore[arg-type]
        inbound.pull_status_changes(ctx, peer)  # type: ignore[arg-type]
    inbound.apply_status_changes(ctx)  # type: ignore[arg-type]
    issue.discover_finished(ctx)  # type: ignore[arg-type]
    issue.issue_ready(ctx)  # type: ignore[arg-type]
    catalog.publish(ctx)  # type: ignore[arg-type]
    sla.track(ctx)  # type: ignore[arg-type]
    sla.flag_missed(ctx)  # type: ignore[arg-type]
    push.deliver(ctx, kinds=("case_row", "event"))  # type: ignore[arg-type]


def test_no_resident_id_in_clear_after_a_demo_sized_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with world(tmp_path, cases=60, seed=20261208) as w:
        known = resident_ids_in([w.day.folder])
        assert len(known) > 30  # the day really holds citizens
        _run_chain(w.ctx)
        from licenses.models import LicenseHolderRow, LicenseRecord

        db = w.ctx.db
        with db.session() as s:
            recs = list(s.scalars(select(LicenseRecord)))
            holders = list(s.scalars(select(LicenseHolderRow)))
            # every sealed column holds tokens only (a NULL is a released payload)
            from sqlalchemy import text

            for c in SEALED:
                plain = s.execute(
                    text(
                        f"SELECT COUNT(*) FROM {c.table} WHERE {c.column} IS NOT NULL "
                        f"AND {c.column} NOT LIKE 'enc1.%'"
                    )
                ).scalar()
                assert plain == 0, f"{c.table}.{c.column}: {plain} values in clear"
        assert recs, "the run issued licenses"
        person = next(h for h in holders if h.code_type == "111")
        assert person.code in known  # opened on load: the real value
        found = w.ctx.licenses.find_by_holder(person.code, "111")
        assert found and all(any(h.code == person.code for h in v.holders) for v in found)
        w.ctx.close()
        db.checkpoint()
        data = w.settings.data_path
        hits = scan_paths([data], known, skip=[w.settings.store_folder / "licenses"])
        hits += scan_bytes(caplog.text.encode(), "logs", known)
        assert not hits, "\n".join(map(str, hits[:10]))
        # the scan does find what is there: the license documents carry their holders
        assert scan_paths([w.settings.store_folder / "licenses"], known)
