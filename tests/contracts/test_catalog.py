"""License types and the service item catalog: shipped data is consistent and checked."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from contracts.catalog import load_catalog
from contracts.errors import CatalogError
from contracts.licensetypes import PACKAGED_FOLDER, license_type, load_license_types
from contracts.models import DepartmentApproval
from contracts.regions import DEMO_JURISDICTIONS
from contracts.validators import is_valid_license_type_code, is_valid_uscc


def test_the_three_license_types() -> None:
    types = load_license_types()
    assert {t.name for t in types.values()} >= {"营业执照", "食品经营许可证", "不动产权证书"}
    biz = license_type("business_license")
    food = license_type("food_business_license")
    estate = license_type("real_estate_certificate")
    for t in (biz, food, estate):
        assert is_valid_license_type_code(t.type_code)
        assert len(t.type_code) == 21
        assert t.type_code.startswith(t.defining_authority.code)
        assert license_type(t.type_code) is t
        assert all(f.length > 0 and f.label for f in t.face_fields)
    assert biz.uniqueness_key == ("ZZLXDM", "CZZTDM") and biz.max_holders == 1
    assert "KZ_BDCDYH" in estate.uniqueness_key and estate.allows_several_holders
    assert len(estate.holder_code_types) > 2
    assert biz.validity_end(date(2026, 3, 2)) is None
    assert food.validity_end(date(2026, 3, 2)) == date(2031, 3, 1)
    assert food.validity_end(date(2028, 2, 29)) == date(2033, 2, 28)
    with pytest.raises(CatalogError):
        license_type("no_such_type")
    with pytest.raises(CatalogError):
        biz.face_field("KZ_NOPE")


def test_bad_type_files_are_refused(tmp_path: Path) -> None:
    doc = json.loads((PACKAGED_FOLDER / "business_license.json").read_text(encoding="utf-8"))
    for change in (
        {"type_code": doc["type_code"][:-1] + "X"},
        {"type_code": "11100000YL0000013P001"},  # wrong check character
        {"holder_code_types": ["777"]},
        {"uniqueness_key": ["KZ_NOPE"]},
        {"validity": {"rule": "years"}},
    ):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        (folder / "t.json").write_text(json.dumps({**doc, **change}), encoding="utf-8")
        with pytest.raises(CatalogError):
            load_license_types(folder)


def test_catalog_covers_demo_jurisdictions() -> None:
    cat = load_catalog()
    types = load_license_types()
    for region in DEMO_JURISDICTIONS:
        items = cat.items_in(region)
        assert len(items) >= 5
        assert {i.license.type_code for i in items if i.license} == set(types)
        assert any(i.license is None for i in items)
        for i in items:
            dept = cat.department(i.department)
            assert is_valid_uscc(dept.code)
            assert dept.region_code == region
            assert 0 <= i.promise_day <= i.anticipate_day
    assert cat.department("11510129008589710X").name == "大邑县市场监督管理局"
    assert cat.province_abbreviation("451030") == "桂"
    estate = next(i for i in cat.items if i.name.startswith("不动产转移登记"))
    assert "holders" in estate.approval_keys and "KZ_BDCDYH" in estate.approval_keys
    assert estate.license is not None
    assert estate.license.sources["CZZT"].source == "accept"
    assert estate.license.sources["ZZBH"].source == "result"
    with pytest.raises(CatalogError):
        cat.item("nope")


def test_catalog_refuses_missing_sources(tmp_path: Path) -> None:
    from contracts.catalog import PACKAGED_FILE

    doc = json.loads(PACKAGED_FILE.read_text(encoding="utf-8"))
    item = next(i for i in doc["items"] if i["license"])
    del item["license"]["sources"]["ZZBH"]
    p = tmp_path / "items.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogError, match="ZZBH"):
        load_catalog(p)
    doc = json.loads(PACKAGED_FILE.read_text(encoding="utf-8"))
    doc["items"][0]["promise_day"] = 99
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogError, match="promise_day"):
        load_catalog(p)


def test_department_approval_model() -> None:
    a = DepartmentApproval.model_validate(
        {
            "approval_id": "A1",
            "project_no": "P1",
            "task_code": "T",
            "type_code": license_type("real_estate_certificate").type_code,
            "org_code": "11510129008589710X",
            "approved_date": "2026-03-05",
            "sent_at": "2026-03-05T16:00:00+08:00",
            "fields": {"KZ_BDCDYH": "510129001001GB00001F00010001"},
            "holders": [
                {"CZZT": "张三", "CZZTDM": "510129199001011238", "CZZTDMLX": "111"},
                {"CZZT": "李四", "CZZTDM": "E12345678", "CZZTDMLX": "414"},
            ],
        }
    )
    assert len(a.holders) == 2
