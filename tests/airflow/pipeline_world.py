"""A pipeline world for the Airflow tier: a fresh tongban data dir, a generated county day, the
sandbox peers on loopback (optionally with faults) and the Connections for them — the same parts
``tongban demo`` uses (:mod:`tongban.demo`)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.settings import Settings
from pipeline import FlowContext
from tongban import demo


@dataclass
class World:
    folder: Path
    settings: Settings
    day: demo.Day
    peers: demo.Peers

    @cached_property
    def ctx(self) -> FlowContext:
        return FlowContext(self.settings)


@contextmanager
def world(
    folder: Path,
    *,
    cases: int,
    seed: int,
    bad_ratio: float = 0.05,
    faults: Any = None,
    env: Mapping[str, str] | None = None,
    database_url: str | None = None,
) -> Iterator[World]:
    from tongban import setup

    data = folder / "var"
    values = {
        "TONGBAN_DATA_DIR": str(data),
        "TONGBAN_PIPELINE__RAW_BATCH_ROWS": "150",  # several batches: children before parents across them
        "TONGBAN_PIPELINE__PULL_PAGE_ROWS": "100",
        "TONGBAN_PIPELINE__ISSUE_CHUNK": "16",
        "TONGBAN_PIPELINE__RETRY_DELAY_S": "1",
        **(env or {}),
    }
    if database_url:
        values["TONGBAN_DATABASE_URL"] = database_url
    with demo.environment(values):
        if not database_url:
            os.environ.pop("TONGBAN_DATABASE_URL", None)  # the data dir's SQLite file
        settings = Settings()
        setup.init(settings)
        day = demo.generate_day(
            folder / "day", rows=int(cases * demo.ROWS_PER_CASE), seed=seed, bad_ratio=bad_ratio
        )
        peers = demo.start_peers(folder / "peers", day, faults=faults, fault_seed=seed)
        try:
            with demo.environment(peers.env):
                w = World(folder, settings, day, peers)
                yield w
                w.ctx.close()
        finally:
            peers.close()


def snapshot(w: World) -> dict[str, Any]:
    """Everything a re-run must not change: our tables, the store's zones, the province."""
    from connectors.models import InboundRow, OutboxRow
    from core.casestore import BatchRecord, CaseRow, HeldRow, QuarantinedRow
    from core.events import DomainEvent
    from core.ledger import LedgerHead
    from licenses.models import LicenseRecord, LicenseStatusChange
    from pipeline.models import Approval, CaseDeadline, CaseLicense, RawBatch, StatusChange

    ctx = w.ctx
    doc: dict[str, Any] = {}
    with ctx.db.session() as s:
        for model in (
            InboundRow,
            RawBatch,
            BatchRecord,
            HeldRow,
            QuarantinedRow,
            Approval,
            DomainEvent,
            LicenseStatusChange,
        ):
            doc[model.__tablename__] = int(s.scalar(select(func.count()).select_from(model)) or 0)
        doc["case_rows"] = dict(s.execute(select(CaseRow.state, func.count()).group_by(CaseRow.state)).all())
        doc["outbox"] = dict(s.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all())
        doc["licenses"] = sorted(s.execute(select(LicenseRecord.license_id, LicenseRecord.status)).all())
        doc["case_licenses"] = sorted(
            s.execute(select(CaseLicense.project_no, CaseLicense.state, CaseLicense.license_id)).all()
        )
        doc["status_changes"] = sorted(s.execute(select(StatusChange.change_id, StatusChange.state)).all())
        doc["case_deadlines"] = sorted(
            s.execute(select(CaseDeadline.project_no, CaseDeadline.state, CaseDeadline.deadline)).all()
        )
        from core.casematerials import CaseMaterial

        doc["case_materials"] = sorted(
            s.execute(
                select(CaseMaterial.row_guid, CaseMaterial.state, CaseMaterial.reason, CaseMaterial.use_seq)
            ).all()
        )
        doc["ledger"] = {
            h.stream: (h.seq, h.head_hash)
            for h in s.scalars(select(LedgerHead))
            if h.stream != "pipeline.failures"
        }
    for zone in ("raw", "held", "quarantine", "licenses", "reports"):
        doc[f"store:{zone}"] = sorted(o.key for o in ctx.store.ls(zone))
    doc["province_rows"] = w.peers.province.distinct_rows()
    doc["province_log"] = len(w.peers.province.commit_log())
    doc["province_events"] = len(w.peers.province.events())
    return doc


def province_order_problems(w: World) -> list[str]:
    """Cases whose rows the province committed out of ``cd_time`` order."""
    last: dict[str, str] = {}
    bad = []
    for _seq, guid, _table, project, cd_time in w.peers.province.commit_log():
        if project in last and cd_time < last[project]:
            bad.append(f"{project}: {guid} at {cd_time} after {last[project]}")
        last[project] = max(cd_time, last.get(project, cd_time))
    return bad


def expected(w: World) -> dict[str, Any]:
    """What the generator planted, computed from its own files (not from our pipeline)."""
    from sandbox.generator import held_children

    defects = w.day.defects
    held_projects = held_children(defects)
    defect_lines = {int(d["line"]) for d in defects}
    valid_guids: set[str] = set()
    held_guids: set[str] = set()
    deferred: dict[tuple[str, str], dict[str, Any]] = {}  # (project_no, material) -> the 容缺 row
    supplies: dict[tuple[str, str], str] = {}  # (project_no, material) -> first supplied_date
    joints: dict[str, dict[str, str]] = defaultdict(dict)  # joint_no -> task_code -> project_no
    themes: dict[str, str] = {}  # joint_no -> theme_code
    results: dict[str, str] = {}  # project_no -> first result_type
    with w.day.cases.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            row = json.loads(line)
            if n in defect_lines:
                continue
            if row["table"] != "up_pro_accept" and row["project_no"] in held_projects:
                held_guids.add(row["row_guid"])
                continue
            valid_guids.add(row["row_guid"])
            if row["table"] == "up_pro_accept" and row.get("joint_no"):
                joints[row["joint_no"]][row["task_code"]] = row["project_no"]
                themes[row["joint_no"]] = row["theme_code"]
            elif row["table"] == "up_pro_result":
                results.setdefault(row["project_no"], row["result_type"])
            if row["table"] == "up_pro_material" and row.get("material_state") == "2":
                deferred[(row["project_no"], row["material_name"])] = row
            elif row["table"] == "up_pro_material" and row.get("material_state") == "3":
                key = (row["project_no"], row["material_name"])
                supplies[key] = min(supplies.get(key, "9999-12-31"), row["supplied_date"])
    by_project: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in w.day.approvals:
        by_project[str(a["project_no"])].append(a)
    unsupplied = {k: r for k, r in deferred.items() if k not in supplies}
    # 联办件 (issue 18): a joint case is settled when a member was refused (any result but 准予) or
    # every member of its theme finished with 准予; until then its members' licenses wait
    from contracts.catalog import load_catalog

    catalog = load_catalog()
    joint_held: set[str] = set()
    for joint_no, by_task in joints.items():
        types = [results.get(p) for p in by_task.values()]
        settled = any(t not in (None, "1") for t in types) or (
            len(by_task) == len(catalog.theme(themes[joint_no]).members) and all(t == "1" for t in types)
        )
        if not settled:
            joint_held |= set(by_task.values())
    return {
        "defects": len(defects),
        "valid_guids": valid_guids,
        "held_guids": held_guids,
        "approvals": by_project,
        # 容缺 (issue 18): the materials accepted as missing, those supplied, the cases they hold
        "deferred": len(deferred),
        "deferred_supplied": sum(1 for k in deferred if k in supplies),
        "unsupplied": unsupplied,  # (project_no, material) -> the 容缺 row (its supply_by)
        "blocked": {p for p, _ in unsupplied},  # cases whose license waits for a supply
        "joint_held": joint_held,  # members of joint cases not yet settled: their licenses wait
    }
