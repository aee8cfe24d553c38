"""The gate end to end: generated batches with planted defects (several seeds), the split
invariant, holds and releases across batches, replays, unparseable files, receipts, quarantine."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from contracts.checks import check_file
from core.casestore import CaseRow, HeldRow, QuarantinedRow
from core.db import utcnow
from quality.gate import Batch, Outcome, QualityGate
from quality.quarantine import list_quarantine, resubmit, show_quarantine
from quality.receipt import verify_receipt
from sandbox.generator import defects_path, held_children, write_case_files

GateFactory = Callable[..., QualityGate]


def _rows(gate: QualityGate, model: Any, **where: Any) -> list[Any]:
    with gate.db.session() as s:
        q = select(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return list(s.scalars(q))


def _count(gate: QualityGate, model: Any) -> int:
    with gate.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _assert_split(o: Outcome) -> None:
    assert o.rows == o.curated + o.held + o.quarantined


def _line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode()


def _generated(tmp_path: Path, count: int, seed: int) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path / f"cases-{seed}.jsonl"
    write_case_files(out, count, seed=seed, bad_ratio=0.1)
    defects = [json.loads(x) for x in defects_path(out).read_text().splitlines()]
    return out, defects


def _check_against_defects(gate: QualityGate, batch_hash: str, defects: list[dict[str, Any]]) -> None:
    quarantined = {r.line: r for r in _rows(gate, QuarantinedRow, batch_hash=batch_hash)}
    held = {h.line: h for h in _rows(gate, HeldRow, batch_hash=batch_hash)}
    planted = {d["line"]: d for d in defects}
    false_negatives = [
        d
        for d in defects
        if d["line"] not in quarantined
        or d["rule_id"] not in {r["rule_id"] for r in quarantined[d["line"]].reason_list()}
    ]
    assert false_negatives == []
    unexplained = [r.line for r in quarantined.values() if r.line not in planted]
    assert unexplained == []
    expected_parents = held_children(defects)
    assert {h.project_no for h in held.values()} <= expected_parents
    assert all(h.table_name != "up_pro_accept" for h in held.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_defects_are_found_exactly(sqlite_gate: GateFactory, tmp_path: Path, seed: int) -> None:
    gate = sqlite_gate(hold_hours=1.0)
    path, defects = _generated(tmp_path, 3000, seed)
    o = gate.validate_batch(Batch.from_path(path))
    _assert_split(o)
    assert o.quarantined == len(defects)
    _check_against_defects(gate, o.batch_hash, defects)
    # the held children are exactly the clean children of defective accept rows ...
    parents = held_children(defects)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    expected_held = {
        i + 1
        for i, r in enumerate(rows)
        if r.get("table") != "up_pro_accept"
        and r.get("project_no") in parents
        and i + 1 not in {d["line"] for d in defects}
    }
    assert {h.line for h in _rows(gate, HeldRow, batch_hash=o.batch_hash)} == expected_held
    assert o.held == len(expected_held) and o.held_reasons == (
        {"child.parent_missing": o.held} if o.held else {}
    )
    # ... and after the hold time they are reported as child.parent_missing
    sweep = gate.sweep_holds(now=utcnow() + timedelta(hours=2))
    assert sweep.expired == len(expected_held)
    expired = [q for q in _rows(gate, QuarantinedRow) if q.kind == "expired"]
    assert {q.line for q in expired} == expected_held
    assert all([r["rule_id"] for r in q.reason_list()] == ["child.parent_missing"] for q in expired)


def test_gate_agrees_with_the_reference_checker(sqlite_gate: GateFactory, tmp_path: Path) -> None:
    gate = sqlite_gate()
    path, _ = _generated(tmp_path, 2000, 7)
    o = gate.validate_batch(Batch.from_path(path))
    report = check_file(path)
    ref = {v.line: v for v in report.verdicts}
    quarantined = {r.line: {x["rule_id"] for x in r.reason_list()} for r in _rows(gate, QuarantinedRow)}
    held = {h.line for h in _rows(gate, HeldRow)}
    for line, v in ref.items():
        if v.status == "quarantined":
            assert line in quarantined, line
            assert {x.rule_id for x in v.violations} <= quarantined[line], line
        elif v.status == "held":
            assert line in held, line
        else:
            assert line not in quarantined and line not in held, line
    assert o.curated == sum(1 for v in ref.values() if v.status == "valid")


@pytest.mark.pg
def test_generated_batch_on_both_databases(make_gate: GateFactory, tmp_path: Path) -> None:
    gate = make_gate()
    path, defects = _generated(tmp_path, 1500, 11)
    o = gate.validate_batch(Batch.from_path(path))
    _assert_split(o)
    _check_against_defects(gate, o.batch_hash, defects)
    assert _count(gate, CaseRow) == o.curated
    again = gate.validate_batch(Batch.from_path(path))
    assert again.replayed and again.batch_hash == o.batch_hash and _count(gate, CaseRow) == o.curated


def _accept_and_child(tmp_path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    path = tmp_path / "clean.jsonl"
    write_case_files(path, 400, seed=5, bad_ratio=0.0)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    counts: dict[str, int] = {}
    for r in rows:
        if r["table"] != "up_pro_accept":
            counts[r["project_no"]] = counts.get(r["project_no"], 0) + 1
    project = max(counts, key=lambda p: counts[p])
    accept = [r for r in rows if r["project_no"] == project and r["table"] == "up_pro_accept"]
    children = [r for r in rows if r["project_no"] == project and r["table"] != "up_pro_accept"]
    return accept, children


def test_child_before_parent_is_held_then_released(sqlite_gate: GateFactory, tmp_path: Path) -> None:
    gate = sqlite_gate()
    accept, children = _accept_and_child(tmp_path)
    first = gate.validate_batch(Batch(b"".join(_line(c) for c in children), name="children"))
    _assert_split(first)
    assert (first.curated, first.held, first.quarantined) == (0, len(children), 0)
    second = gate.validate_batch(Batch(b"".join(_line(a) for a in accept), name="parent"))
    _assert_split(second)
    assert second.curated == 1 and second.released == len(children)
    assert "released" not in second.objects  # released rows go to case_rows, not to another object
    project = accept[0]["project_no"]
    with gate.db.session() as s:
        accepted = gate.cases.rows(s, project_no=project)
        assert {r.table_name for r in accepted} >= {"up_pro_accept"}
        assert len(accepted) == 1 + len(children)
        assert gate.cases.open_holds(s) == []
    # the same bytes again are a replay: the stored outcome, nothing changes
    gate3 = sqlite_gate()
    assert gate3.validate_batch(Batch(b"".join(_line(c) for c in children), name="again")).replayed


def test_held_row_owns_its_guid_and_duplicates_are_first_wins(
    sqlite_gate: GateFactory, tmp_path: Path
) -> None:
    gate = sqlite_gate()
    accept, children = _accept_and_child(tmp_path)
    child = children[0]
    o1 = gate.validate_batch(Batch(_line(child), name="held"))
    assert o1.held == 1
    o2 = gate.validate_batch(Batch(_line({**child, "cd_batch": "resend"}), name="resend"))
    assert o2.quarantined == 1 and o2.reasons == {"row.duplicate_guid": 1}
    # within one batch: the first occurrence wins, a quarantined first occurrence owns nothing
    a = accept[0]
    broken = {**a, "region_code": "999999"}
    o3 = gate.validate_batch(Batch(_line(broken) + _line(a) + _line({**a, "cd_batch": "x"}), name="dups"))
    assert (o3.curated, o3.quarantined) == (1, 2)
    assert o3.reasons == {"accept.region_code": 1, "row.duplicate_guid": 1}


def test_unparseable_files_are_quarantined_whole(sqlite_gate: GateFactory) -> None:
    gate = sqlite_gate()
    garbage = b"\n" + b"\xff\xfe\x00binary\n" * 3  # no line of it can be read
    o = gate.validate_batch(Batch(garbage, name="garbage.jsonl"))
    _assert_split(o)
    assert o.file_quarantined and o.rows == 3 and o.quarantined == 3
    assert o.fault is not None and o.fault["line"] == 2 and o.fault["byte_offset"] == 1
    assert "0xff" in o.fault["message"]
    entry = _rows(gate, QuarantinedRow, batch_hash=o.batch_hash)
    assert len(entry) == 1 and entry[0].kind == "file" and entry[0].line == 2
    csv = b"project_no,task_code\nP1,T1\n"
    o2 = gate.validate_batch(Batch(csv, name="cases.csv"))
    assert o2.file_quarantined and o2.rows == 2 and o2.fault is not None
    assert (o2.fault["line"], o2.fault["byte_offset"]) == (1, 0)
    # a single bad line is a row, not the file
    o3 = gate.validate_batch(Batch(b'{"table": "up_pro_material"}\n{not json\n[1, 2]\n', name="mixed"))
    _assert_split(o3)
    assert not o3.file_quarantined and o3.quarantined == 3
    assert o3.reasons["row.not_json"] == 2
    assert o3.rows == 3
    empty = gate.validate_batch(Batch(b"\n\n", name="empty"))
    assert (empty.rows, empty.curated, empty.held, empty.quarantined) == (0, 0, 0, 0)


def test_a_damaged_byte_or_a_hostile_line_quarantines_that_line_and_the_good_rows_survive(
    sqlite_gate: GateFactory, tmp_path: Path
) -> None:
    """Issue 20: one invalid byte, one line of 1,000 nested brackets, a repeated key, a row of 600
    keys and an over-long line each quarantine their own line (row.not_json with the cause); the
    good rows beside them are curated."""
    gate = sqlite_gate()
    path = tmp_path / "clean.jsonl"
    write_case_files(path, 200, seed=7, bad_ratio=0.0)
    accept = [r for r in map(json.loads, path.read_text().splitlines()) if r["table"] == "up_pro_accept"]
    good = [_line(a) for a in accept[:3]]
    damaged = _line(accept[3]).replace("大邑".encode(), b"\xff\xfe", 1)
    if damaged == _line(accept[3]):
        damaged = _line(accept[3])[:-3] + b"\xff" + _line(accept[3])[-3:]
    repeated = _line(accept[4]).replace(b'{"', b'{"task_code": "X", "', 1)
    hostile = [
        damaged,
        b'{"table": "up_pro_accept", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}\n",
        repeated,
        b"{" + b",".join(b'"k%d": 1' % i for i in range(600)) + b"}\n",
        b'{"table": "up_pro_accept", "x": "' + b"a" * 1_200_000 + b'"}\n',
    ]
    o = gate.validate_batch(Batch(good[0] + hostile[0] + good[1] + b"".join(hostile[1:]) + good[2], name="h"))
    _assert_split(o)
    assert not o.file_quarantined
    assert (o.curated, o.quarantined) == (3, 5), o.reasons
    assert o.reasons == {"row.not_json": 5}
    rows = {r.line: r for r in _rows(gate, QuarantinedRow, batch_hash=o.batch_hash)}
    details = {line: json.dumps(r.reasons, ensure_ascii=False) for line, r in rows.items()}
    assert "not valid UTF-8" in details[2]
    assert "nested too deeply" in details[4]
    assert "'task_code' is given more than once" in details[5]
    assert "600 keys" in details[6]
    assert "characters (at most" in details[7]
    assert (
        len(rows[7].raw or "") < 10_000
    )  # the evidence of a huge line is its head; the raw batch keeps it all


def test_gb18030_batch_is_transcoded(sqlite_gate: GateFactory, tmp_path: Path) -> None:
    gate = sqlite_gate()
    accept, _ = _accept_and_child(tmp_path)
    o = gate.validate_batch(Batch(json.dumps(accept[0], ensure_ascii=False).encode("gb18030"), name="gbk"))
    assert (o.curated, o.quarantined, o.file_quarantined) == (1, 0, False)


def test_receipt_verifies_and_detects_any_change(sqlite_gate: GateFactory, tmp_path: Path) -> None:
    gate = sqlite_gate()
    path, _ = _generated(tmp_path, 300, 21)
    o = gate.validate_batch(Batch.from_path(path))
    assert o.receipt is not None
    ok = verify_receipt(o.receipt, keystore=gate.keystore, outputs=gate.outputs)
    assert ok.valid, ok.reasons
    assert {"signature", "object:raw", "object:quarantine", "object:held", "object:report"} <= set(ok.checked)
    assert "curated" not in o.objects  # curated rows live in case_rows only
    # every byte of the receipt matters
    token = o.receipt
    for i in range(0, len(token), max(1, len(token) // 40)):
        c = token[i]
        bad = token[:i] + ("A" if c != "A" else "B") + token[i + 1 :]
        assert not verify_receipt(bad, keystore=gate.keystore, outputs=gate.outputs).valid, i
    # and so does every referenced object
    store_root = gate.settings.store_folder
    for name in ("raw", "report", "quarantine"):
        ref = o.objects[name]
        files = [
            p for p in store_root.rglob(f"*{ref['key']}*") if p.is_file() and not p.name.endswith(".json")
        ]
        assert files, name
        target = files[0]
        original = target.read_bytes()
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0x01
        target.write_bytes(bytes(damaged))
        try:
            check = verify_receipt(o.receipt, keystore=gate.keystore, outputs=gate.outputs)
            assert not check.valid and any(r.startswith(f"object:{name}") for r in check.reasons), (
                check.reasons
            )
        finally:
            target.write_bytes(original)
    assert verify_receipt(o.receipt, keystore=gate.keystore, outputs=gate.outputs).valid
    # the receipt is in the ledger
    from core import ledger

    with gate.db.session() as s:
        entries = ledger.entries(s, "quality.receipts")
        assert any(json.loads(e.payload)["batch_hash"] == o.batch_hash for e in entries)
        assert all(r.ok for r in ledger.verify_chain(s, "quality.receipts"))


def test_receipt_names_keyed_addresses_not_plain_hashes_of_citizen_data(
    sqlite_gate: GateFactory, tmp_path: Path
) -> None:
    """A plain SHA-256 of a held / quarantine object would let anyone confirm a guessed
    record; the receipt names the store's keyed address instead (and verifies through it)."""
    import base64
    import hashlib

    gate = sqlite_gate()
    path, _ = _generated(tmp_path, 300, 22)
    o = gate.validate_batch(Batch.from_path(path))
    assert o.receipt is not None and o.held and o.quarantined
    body = o.receipt.split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload["v"] == 2
    published = o.receipt + json.dumps(o.as_dict())
    for name in ("held", "quarantine", "raw"):
        ref = payload["objects"][name]
        assert ref["address"] == "hmac-sha256" and "sha256" not in ref, ref
        plain = gate.outputs.get(ref["zone"], ref["key"])
        assert plain, name
        digest = hashlib.sha256(plain).hexdigest()
        assert digest != ref["key"], name
        if name != "raw":  # the raw object is the batch, whose SHA-256 is its identity (batch_hash)
            assert digest not in published, name
    assert payload["objects"]["report"]["address"] == "sha256"  # public zone: the address is the SHA-256
    assert verify_receipt(o.receipt, keystore=gate.keystore, outputs=gate.outputs).valid


def test_quarantine_resubmit_goes_through_the_same_gate(sqlite_gate: GateFactory, tmp_path: Path) -> None:
    gate = sqlite_gate()
    accept, _ = _accept_and_child(tmp_path)
    good = accept[0]
    bad = {**good, "applyer_id": good["applyer_id"][:-1] + ("0" if good["applyer_id"][-1] != "0" else "1")}
    o = gate.validate_batch(Batch(_line(bad), name="bad"))
    assert o.quarantined == 1
    [entry] = list_quarantine(gate)
    shown = show_quarantine(gate, entry["id"])
    assert shown["row"]["applyer_id"].count("*") == 10  # masked
    assert good["applyer_id"] not in json.dumps(shown, ensure_ascii=False)
    still_bad = resubmit(gate, entry["id"], patch={"region_code": "510129"})
    assert still_bad.result == "quarantined"
    [entry2] = list_quarantine(gate)
    fixed = resubmit(gate, entry2["id"], patch={"applyer_id": good["applyer_id"]})
    assert fixed.result == "curated"
    assert list_quarantine(gate) == []
    history = list_quarantine(gate, status=None)
    assert len(history) == 2 and all(h["status"] == "resubmitted" for h in history)
    assert _count(gate, QuarantinedRow) == 2  # the originals stay as evidence


def test_report_masks_citizen_ids(sqlite_gate: GateFactory, tmp_path: Path) -> None:
    gate = sqlite_gate()
    accept, _ = _accept_and_child(tmp_path)
    bad = {**accept[0], "accept_date": "2001-01-01"}
    o = gate.validate_batch(Batch(_line(bad), name="bad"))
    assert o.report is not None
    html = gate.outputs.get("reports", o.report.split("/", 1)[1]).decode()
    assert "accept.date_order" in html and "<svg" in html
    assert accept[0]["applyer_id"] not in html
    assert accept[0]["applyer_id"][:4] + "*" * 10 + accept[0]["applyer_id"][-4:] in html
