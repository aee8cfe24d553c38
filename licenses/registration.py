"""Steps 3 and 4 of issuing: **store** the signed file (zone ``licenses``), then **register and
publish** in one transaction — the license row, its holders, file and first status, the intent
marked registered, a ledger entry (stream ``license.lifecycle``) and the domain event
``license.issued``.

Failpoints: ``licenses.issue.after_store`` (stored, not registered: the orphan case),
``licenses.issue.after_register`` (between registering and publishing, so a crash rolls both
back) and ``licenses.issue.before_commit``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core import failpoints
from core.db import Database
from core.events import record_event
from core.fieldcrypt import FieldCrypt
from core.ledger import append_many
from core.masking import mask_id
from core.sealing import crypt_of, holder_kind, row_key
from core.store import ObjectStore, Zone
from licenses.allocation import Prepared
from licenses.errors import UniquenessConflict
from licenses.models import (
    LIVE_STATUSES,
    LicenseFile,
    LicenseHolderRow,
    LicenseIntent,
    LicenseRecord,
    LicenseStatusChange,
)
from licenses.transitions import issue_operation
from licenses.views import OPERATION_NAMES, IssueOutcome, issued

LEDGER_STREAM = "license.lifecycle"
AFTER_STORE = failpoints.declare("licenses.issue.after_store", "license file stored, not yet registered")
AFTER_REGISTER = failpoints.declare(
    "licenses.issue.after_register", "license registered in the open transaction, event not yet recorded"
)
BEFORE_COMMIT = failpoints.declare("licenses.issue.before_commit", "registered and published, not committed")


def store_file(store: ObjectStore, pdf: bytes, *, schema_version: str = "") -> str:
    """Store one signed license file (durably); its object key."""
    return store.put(
        Zone.LICENSES, pdf, content_type="application/pdf", source="licenses", schema_version=schema_version
    ).key


def register(
    db: Database, ready: Mapping[int, Prepared], now: datetime, *, profile: str
) -> dict[int, IssueOutcome]:
    """Register and publish stored licenses in one transaction; an outcome per index."""
    outcomes: dict[int, IssueOutcome] = {}
    if not ready:
        return outcomes
    stamp = now.isoformat()
    with db.session() as s:
        ledger_items: list[tuple[str, Mapping[str, Any]]] = []
        registered: list[tuple[Prepared, LicenseRecord]] = []
        try:  # the common case: the whole batch in a few multi-row statements
            with s.begin_nested():
                recs = insert_many(s, list(ready.values()), stamp, profile=profile)
            for (i, p), rec in zip(ready.items(), recs, strict=True):
                registered.append((p, rec))
                outcomes[i] = IssueOutcome(p.request, license=issued(rec))
        except IntegrityError:  # a conflict somewhere: one savepoint per license to find it
            for i, p in ready.items():
                assert p.signed is not None and p.object_key is not None
                try:
                    with s.begin_nested():
                        rec = insert_one(s, p, stamp, profile=profile)
                    registered.append((p, rec))
                    outcomes[i] = IssueOutcome(p.request, license=issued(rec))
                except IntegrityError:
                    outcomes[i] = IssueOutcome(p.request, **_explain_conflict(s, p))
        failpoints.hit(AFTER_REGISTER)
        for p, rec in registered:
            op = "renew" if p.lineage == "renew" else "change" if p.lineage == "change" else "issue"
            ledger_items.append(
                (
                    f"license.{op}",
                    {
                        "license_id": rec.license_id,
                        "operation": issue_operation(p.request.operation, p.lineage),
                        "to_status": "01",
                        "certified_sha256": rec.certified_sha256,
                        "object_key": rec.object_key,
                        "holder": mask_id(rec.holder_code),
                        "previous": p.previous,
                        "actor": p.request.actor,
                    },
                )
            )
            record_event(s, "license.issued", "license", rec.license_id, event_payload(rec, p))
        append_many(s, LEDGER_STREAM, ledger_items, now=now)
        failpoints.hit(BEFORE_COMMIT)
    return outcomes


def insert_many(s: Session, items: list[Prepared], stamp: str, *, profile: str) -> list[LicenseRecord]:
    """Register a batch with multi-row INSERTs (RETURNING the ids in parameter order)."""
    rows = [_row(p, stamp, profile) for p in items]
    crypt = crypt_of(s)
    ids = list(
        s.scalars(
            insert(LicenseRecord).returning(LicenseRecord.id, sort_by_parameter_order=True),
            [_sealed_row(crypt, r) for r in rows],
        )
    )
    holders: list[dict[str, Any]] = []
    files, history = [], []
    for p, pk in zip(items, ids, strict=True):
        h, f, e = _children(p, pk, stamp, profile)
        holders += [_sealed_holder(crypt, x) for x in h]
        files.append(f)
        history.append(e)
    s.execute(insert(LicenseHolderRow), holders)
    s.execute(insert(LicenseFile), files)
    s.execute(insert(LicenseStatusChange), history)
    s.execute(
        update(LicenseIntent)
        .where(LicenseIntent.license_id.in_([p.license_id for p in items]))
        .values(state="registered")
    )
    return [LicenseRecord(id=pk, **row) for pk, row in zip(ids, rows, strict=True)]


def insert_one(s: Session, p: Prepared, stamp: str, *, profile: str) -> LicenseRecord:
    """Register one license (raises IntegrityError on a conflict; the caller holds a savepoint)."""
    crypt = crypt_of(s)
    row = _row(p, stamp, profile)
    rec = LicenseRecord(**_sealed_row(crypt, row))
    s.add(rec)
    s.flush()
    for col in _SEALED_RECORD:  # the object shows the plaintext, the row holds the tokens
        set_committed_value(rec, col, row[col])
    holders, file, history = _children(p, rec.id, stamp, profile)
    s.execute(insert(LicenseHolderRow), [_sealed_holder(crypt, x) for x in holders])
    s.execute(insert(LicenseFile), [file])
    s.execute(insert(LicenseStatusChange), [history])
    intent = s.get(LicenseIntent, p.license_id)
    if intent is not None:
        intent.state = "registered"
    s.flush()
    return rec


def event_payload(rec: LicenseRecord, p: Prepared) -> dict[str, Any]:
    """The payload of the domain event ``license.issued``."""
    return {
        "license_id": rec.license_id,
        "type_code": rec.type_code,
        "version": rec.version,
        "status": rec.status,
        "operation": issue_operation(p.request.operation, p.lineage),
        "previous_license_id": p.previous,
        "object_key": rec.object_key,
        "certified_sha256": rec.certified_sha256,
        "metadata": p.metadata,
    }


def _row(p: Prepared, stamp: str, profile: str) -> dict[str, Any]:
    assert p.signed is not None and p.object_key is not None
    meta = p.metadata
    first = p.request.holders[0]
    return {
        "license_id": p.license_id,
        "type_code": p.ltype.type_code,
        "type_name": p.ltype.name,
        "issuer_code": p.request.issuer_code,
        "issuer_name": meta["ZZBFJG"],
        "serial": p.serial,
        "version": p.version,
        "license_no": meta["ZZBH"],
        "holder_name": first.name,
        "holder_code": first.code,
        "holder_code_type": first.code_type,
        "issue_date": meta["ZZBFRQ"],
        "valid_from": meta["ZZYXQQSRQ"],
        "valid_until": meta["ZZYXQJZRQ"],
        "status": "01",
        "status_changed_at": stamp,
        "verify_code": p.verify_code,
        "certified_sha256": p.signed.certified_sha256,
        "object_key": p.object_key,
        "profile": profile,
        "metadata_json": json.dumps(meta, ensure_ascii=False, sort_keys=True),
        "uniqueness_hash": p.uniqueness,
        "idempotency_key": p.request.idempotency_key,
        "previous_license_id": p.previous,
        "lineage": p.lineage,
        "row_version": 1,
        "created_at": stamp,
    }


_SEALED_RECORD = ("holder_name", "holder_code", "metadata_json")


def _sealed_row(crypt: FieldCrypt, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` as stored: holder and metadata sealed under the license id, the holder's blind index."""
    out = dict(row)
    lid = row["license_id"]
    for col in _SEALED_RECORD:
        out[col] = crypt.seal(row[col], table="licenses", column=col, row_key=lid)
    out["holder_bidx"] = crypt.blind(row["holder_code"], kind=holder_kind(row["holder_code_type"]))
    return out


def _sealed_holder(crypt: FieldCrypt, h: dict[str, Any]) -> dict[str, Any]:
    rk = row_key(h["license_pk"], h["position"])
    return {
        **h,
        "name": crypt.seal(h["name"], table="license_holders", column="name", row_key=rk),
        "code": crypt.seal(h["code"], table="license_holders", column="code", row_key=rk),
        "code_bidx": crypt.blind(h["code"], kind=holder_kind(h["code_type"])),
    }


def _children(
    p: Prepared, pk: int, stamp: str, profile: str
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    assert p.signed is not None and p.object_key is not None
    holders = [
        {"license_pk": pk, "position": pos, "name": h.name, "code": h.code, "code_type": h.code_type}
        for pos, h in enumerate(p.request.holders)
    ]
    file = {
        "license_pk": pk,
        "object_key": p.object_key,
        "kind": "issued",
        "size": len(p.signed.pdf),
        "profile": profile,
        "created_at": stamp,
    }
    op = issue_operation(p.request.operation, p.lineage)
    history = {
        "license_pk": pk,
        "operation": op,
        "from_status": None,
        "to_status": "01",
        "reason": OPERATION_NAMES[op],
        "actor": p.request.actor,
        "at": stamp,
    }
    return holders, file, history


def _explain_conflict(s: Session, p: Prepared) -> dict[str, Any]:
    existing = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == p.license_id))
    if existing is not None:  # a concurrent run of the same request registered it first
        return {"license": issued(existing, existed=True)}
    live = s.scalar(
        select(LicenseRecord.license_id).where(
            LicenseRecord.type_code == p.ltype.type_code,
            LicenseRecord.uniqueness_hash == p.uniqueness,
            LicenseRecord.status.in_(LIVE_STATUSES),
        )
    )
    return {
        "error": UniquenessConflict(
            f"a live {p.ltype.name} already exists for this uniqueness key: {live}", existing_id=live
        )
    }
