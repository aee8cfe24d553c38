"""The public surface of ``sandbox`` is pinned; ``import sandbox`` loads neither spyne nor waitress,
and nothing of ours but ``contracts``."""

from __future__ import annotations

from tests.exports import check_surface, heavy_imports

PUBLIC = (
    "DEFECT_KINDS KINDS CaseGenerator CountyFeed DepartmentSystem ExchangeProvince FaultInjector "
    "FaultPlan GeneratorOptions ProvinceStore RunningServer approvals_path case_row case_rows "
    "defects_path held_children make_province_app serve start write_case_files"
)


def test_exported_names() -> None:
    check_surface("sandbox", PUBLIC)


def test_importing_sandbox_is_light() -> None:
    banned = ("spyne", "waitress", "sqlalchemy", "core", "connectors", "quality", "licenses", "pipeline")
    assert heavy_imports("sandbox", banned) == []
