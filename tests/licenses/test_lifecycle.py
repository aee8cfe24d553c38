"""Registry and lifecycle: the DOMAIN.md §3 transition table, history + ledger + events, versions,
expiry, uniqueness, idempotency, identifiers, glyph coverage."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from contracts.validators import is_valid_license_id, parse_license_id
from core.events import DomainEvent
from core.ledger import LedgerEntry, verify_chain
from licenses import (
    TRANSITIONS,
    GlyphMissing,
    IdempotencyConflict,
    TransitionRefused,
    UniquenessConflict,
)
from licenses._render import check_glyphs
from licenses.identifiers import allocate_serials, new_verify_code
from licenses.models import LicenseRecord, LicenseStatusChange
from tests.licenses.conftest import LicEnv, business_request, property_request

ALL_STATUSES = ["01", "02", "03", "04", "05", "06", "07"]
# DOMAIN.md §3, written out again here on purpose: (action, from) -> (to, operation)
TABLE = {
    ("suspend", "01"): ("02", "03"),
    ("reinstate", "02"): ("01", "06"),
    ("withdraw", "01"): ("03", "07"),
    ("withdraw", "02"): ("03", "07"),
    ("cancel", "01"): ("04", "05"),
    ("cancel", "02"): ("04", "05"),
    ("revoke", "01"): ("07", "07"),
    ("revoke", "02"): ("07", "07"),
    ("expire", "01"): ("05", "04"),
    ("expire", "02"): ("05", "04"),
    ("transfer-out", "01"): ("06", "07"),
    ("cancel-transfer", "06"): ("01", "10"),
}


def _force_status(env: LicEnv, license_id: str, status: str) -> None:
    with env.db.session() as s:
        s.execute(update(LicenseRecord).where(LicenseRecord.license_id == license_id).values(status=status))


def test_the_transition_table_exactly(lic_env: LicEnv) -> None:
    reg = lic_env.registry
    lic = reg.issue(business_request())
    for action in TRANSITIONS:
        for status in ALL_STATUSES:
            _force_status(lic_env, lic.license_id, status)
            expected = TABLE.get((action, status))
            if expected is None:
                with pytest.raises(TransitionRefused) as err:
                    reg.transition(lic.license_id, action, reason="表驱动测试")
                assert err.value.status == status and action in str(err.value)
            else:
                view = reg.transition(lic.license_id, action, reason="表驱动测试", actor="tester")
                assert view.status == expected[0]
                last = view.history[-1]
                assert (last.operation, last.from_status, last.to_status) == (
                    expected[1],
                    status,
                    expected[0],
                )
    _force_status(lic_env, lic.license_id, "04")
    with pytest.raises(TransitionRefused, match="final"):
        reg.transition(lic.license_id, "reinstate", reason="x")


def test_each_change_writes_history_ledger_and_event(lic_env: LicEnv) -> None:
    reg = lic_env.registry
    req = business_request()
    lic = reg.issue(req)
    with lic_env.db.session() as s:
        n_ledger = s.scalar(select(func.count()).select_from(LedgerEntry)) or 0
        n_events = s.scalar(select(func.count()).select_from(DomainEvent)) or 0
    reg.transition(lic.license_id, "suspend", reason="抽查", actor="市场监管执法大队")
    reg.transition(lic.license_id, "reinstate", reason="整改完成", actor="市场监管执法大队")
    with lic_env.db.session() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == n_ledger + 2
        events = list(s.scalars(select(DomainEvent).order_by(DomainEvent.id.desc()).limit(2)))
        assert s.scalar(select(func.count()).select_from(DomainEvent)) == n_events + 2
        assert [e.data["to_status"] for e in reversed(events)] == ["02", "01"]
        assert all(r.ok for r in verify_chain(s, "license.lifecycle"))
        entries = list(s.scalars(select(LedgerEntry).where(LedgerEntry.stream == "license.lifecycle")))
        assert not any(req.holders[0].code in e.payload for e in entries)  # masked in the ledger
    history = reg.get(lic.license_id).history
    assert [(h.operation, h.to_status, h.actor) for h in history] == [
        ("01", "01", "system"),
        ("03", "02", "市场监管执法大队"),
        ("06", "01", "市场监管执法大队"),
    ]


def test_issue_publishes_an_event_in_the_same_transaction(lic_env: LicEnv) -> None:
    lic = lic_env.registry.issue(business_request())
    with lic_env.db.session() as s:
        ev = s.scalar(select(DomainEvent).where(DomainEvent.aggregate_id == lic.license_id))
        assert ev is not None and ev.kind == "license.issued"
        assert ev.data["certified_sha256"] == lic.sha256
        assert ev.data["metadata"]["ZZBS"] == lic.license_id


def test_idempotency_key_returns_the_same_license(lic_env: LicEnv) -> None:
    req = business_request()
    first = lic_env.registry.issue(req)
    again = lic_env.registry.issue(req)
    assert again.existed and again.license_id == first.license_id and again.sha256 == first.sha256
    with pytest.raises(IdempotencyConflict):  # the same key for another request
        lic_env.registry.issue(business_request(key=req.idempotency_key))
    twice = lic_env.registry.issue_many([business_request(key="k"), business_request(key="k")])
    assert twice[0].ok and isinstance(twice[1].error, IdempotencyConflict)


def test_uniqueness_per_type(lic_env: LicEnv) -> None:
    reg = lic_env.registry
    req = business_request()
    lic = reg.issue(req)
    with pytest.raises(UniquenessConflict) as err:
        reg.issue(replace(req, idempotency_key="again"))
    assert err.value.existing_id == lic.license_id
    reg.transition(lic.license_id, "cancel", reason="歇业")
    assert reg.issue(replace(req, idempotency_key="after-cancel")).status == "01"
    # real estate: one live certificate per property unit, whoever holds it
    unit = "510129001001GB00001F00020002"
    reg.issue(property_request(unit, owners=2))
    with pytest.raises(UniquenessConflict):
        reg.issue(replace(property_request(unit, owners=1), idempotency_key="other-owner"))


def test_database_enforces_uniqueness_even_without_the_precheck(lic_env: LicEnv) -> None:
    from sqlalchemy.exc import IntegrityError

    lic = lic_env.registry.issue(business_request())
    with pytest.raises(IntegrityError), lic_env.db.session() as s:
        rec = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == lic.license_id))
        assert rec is not None
        clone = LicenseRecord(
            **{c.name: getattr(rec, c.name) for c in LicenseRecord.__table__.columns if c.name != "id"}
        )
        clone.license_id = rec.license_id[:-5] + "9.001.0"
        clone.idempotency_key = None
        s.add(clone)
        s.flush()


def test_change_and_renew_issue_linked_versions(lic_env: LicEnv) -> None:
    reg = lic_env.registry
    lic = reg.issue(business_request())
    changed = reg.change(lic.license_id, {"KZ_JYFW": "餐饮服务。"}, reason="经营范围变更", actor="窗口")
    old, new = reg.get(lic.license_id), reg.get(changed.license_id)
    assert old.status == "04" and old.history[-1].operation == "09"
    assert new.status == "01" and new.version == 2 and new.previous_license_id == lic.license_id
    assert new.lineage == "change" and new.metadata["KZ"]["KZ_JYFW"] == "餐饮服务。"
    a, b = parse_license_id(lic.license_id), parse_license_id(changed.license_id)
    assert (a.serial, a.version, b.version) == (b.serial, 1, 2)
    repeat = reg.change(lic.license_id, {"KZ_JYFW": "餐饮服务。"})  # a retried request
    assert repeat.existed and repeat.license_id == changed.license_id
    with pytest.raises(TransitionRefused):
        reg.renew(lic.license_id)  # the old version is final
    renewed = reg.renew(changed.license_id, reason="到期延续")
    assert reg.get(changed.license_id).history[-1].operation == "02"
    assert reg.get(renewed.license_id).version == 3


def test_expiry_sweep(lic_env: LicEnv) -> None:
    reg = lic_env.registry
    lic = reg.issue(replace(business_request(), valid_until=date.today() + timedelta(days=3)))
    assert lic.license_id not in reg.expire_due()
    expired = reg.expire_due(today=date.today() + timedelta(days=4))
    assert lic.license_id in expired
    view = reg.get(lic.license_id)
    assert view.status == "05" and view.history[-1].operation == "04"
    food = reg.issue(
        replace(
            business_request(),
            type_code="food_business_license",
            fields={
                "KZ_FDDBR": "张三",
                "KZ_ZS": "大邑县示例路1号",
                "KZ_JYCS": "大邑县示例路1号",
                "KZ_ZTYT": "餐饮服务经营者",
                "KZ_JYXM": "热食类食品制售",
                "KZ_RCJDGLJG": "大邑县市场监督管理局",
            },
            idempotency_key="food-1",
        )
    )
    meta = reg.metadata(food.license_id)
    assert meta["ZZYXQJZRQ"] is not None and meta["KZ"]["KZ_YXQZ"] == meta["ZZYXQJZRQ"]  # 5 years


def test_lookups_for_sharing(lic_env: LicEnv) -> None:
    reg = lic_env.registry
    req = property_request("510129001001GB00001F00030003", owners=2)
    lic = reg.issue(req)
    second = req.holders[1]
    found = reg.find_by_holder(second.code, second.code_type)
    assert [v.license_id for v in found] == [lic.license_id]
    assert reg.find_by_holder(second.code, second.code_type, type_code="business_license") == []
    meta = reg.metadata(lic.license_id)
    assert meta["ZZZT"] == "01" and len(meta["holders"]) == 2
    face = reg.face(lic.license_id)
    assert face.license_id == lic.license_id and face.title == "不动产权证书"
    assert json.loads(face.metadata_json)["ZZBS"] == lic.license_id


def test_identifiers_and_serials(lic_env: LicEnv) -> None:
    with lic_env.db.session() as s:
        a = allocate_serials(s, "11100000YL0000012P001", "11511825051182510B", 2031, 3)
    with lic_env.db.session() as s:
        b = allocate_serials(s, "11100000YL0000012P001", "11511825051182510B", 2031, 2)
    assert a == ["2031000001", "2031000002", "2031000003"] and b == ["2031000004", "2031000005"]
    lic = lic_env.registry.issue(business_request())
    assert is_valid_license_id(lic.license_id)
    code = new_verify_code()
    assert len(code) == 9 and code[4] == "-" and not set(code) & set("01IO")


def test_a_character_no_font_draws_is_named(lic_env: LicEnv) -> None:
    face = lic_env.registry.face(lic_env.registry.issue(business_request()).license_id)
    bad = replace(face, fields=[*face.fields, ("经营者", "张𠀀")])  # U+20000, CJK extension B
    with pytest.raises(GlyphMissing) as err:
        check_glyphs(bad)
    assert "U+20000" in str(err.value) and "经营者" in str(err.value)
    outcome = lic_env.registry.issue_many([business_request(KZ_JYZ="李𠀀")])[0]
    assert outcome.error is not None and outcome.error.code == "LICENSE_GLYPH_MISSING"
    with lic_env.db.session() as s:  # nothing registered for it
        assert (
            s.scalar(
                select(func.count()).select_from(LicenseStatusChange).where(LicenseStatusChange.actor == "x")
            )
            == 0
        )
