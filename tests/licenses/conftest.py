"""Fixtures for the license tests: a data dir with a migrated database, the sample PKI and a registry.

``lic_env`` is shared by the module's tests (PKI init takes ~1 s); tests that revoke certificates
build their own with ``make_env``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from contracts.validators import make_resident_id, make_uscc
from core.db import Database
from core.runtime import open_database
from core.settings import Settings
from licenses import Holder, IssueRequest, LicenseRegistry, Trust, open_registry, trust
from licenses.pki import Pki

DAYI_SAMR = "11510129008589710X"  # 大邑县市场监督管理局 (DOMAIN.md vector; in the PKI and the catalog)
DAYI_NR = "115101290510129253"  # 大邑县自然资源局


@dataclass
class LicEnv:
    settings: Settings
    db: Database
    pki: Pki
    registry: LicenseRegistry

    def trust(self) -> Trust:
        return trust(self.settings, db=self.db)


def make_env(data_dir: Path, *, db_url: str | None = None, profile: str = "B-LT") -> LicEnv:
    from migrations import runner

    settings = Settings(
        data_dir=data_dir,
        database_url=db_url,
        keys={"passphrase": "test-" + uuid.uuid4().hex},
    )
    settings.data_path.mkdir(parents=True, exist_ok=True)
    if db_url is None:
        runner.upgrade(settings.db_url)
    db = open_database(settings)
    pki = Pki(settings, db=db)
    pki.init()
    registry = open_registry(settings, db=db, profile=profile)  # type: ignore[arg-type]
    return LicEnv(settings, db, pki, registry)


@pytest.fixture(scope="module")
def lic_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LicEnv]:
    env = make_env(tmp_path_factory.mktemp("lic") / "var")
    yield env
    env.db.dispose()


_counter = iter(range(1, 10**9))


def business_request(n: int | None = None, *, key: str | None = None, **fields: str) -> IssueRequest:
    """A 营业执照 request for a fresh (or the n-th) sample company."""
    i = next(_counter) if n is None else n
    uscc = make_uscc("92", "510129", f"MA{i:06X}"[-8:].rjust(8, "0"))
    base = {
        "KZ_LX": "个体工商户",
        "KZ_JYZ": "张三",
        "KZ_ZCXS": "个人经营",
        "KZ_JYCS": "四川省成都市大邑县晋原街道示例路88号",
        "KZ_JYFW": "餐饮服务；食品销售（仅销售预包装食品）。",
    }
    base.update(fields)
    return IssueRequest(
        type_code="business_license",
        issuer_code=DAYI_SAMR,
        holders=[Holder(f"大邑县示例餐馆{i}号", uscc, "001")],
        fields=base,
        idempotency_key=key or f"P{i}:business_license",
    )


def property_request(unit: str, owners: int = 2) -> IssueRequest:
    seq = int(unit[-4:]) % 300  # distinct owners per unit
    holders = [
        Holder(name, make_resident_id("510129", date(1980 + k, 1, 2), 100 + 3 * seq + k), "111")
        for k, name in enumerate(["王五", "赵六", "孙七"][:owners])
    ]
    return IssueRequest(
        type_code="real_estate_certificate",
        issuer_code=DAYI_NR,
        holders=holders,
        fields={
            "KZ_ZL": "大邑县晋原街道示例小区3栋2单元501",
            "KZ_BDCDYH": unit,
            "KZ_QLLX": "国有建设用地使用权/房屋所有权",
            "KZ_QLXZ": "出让/市场化商品房",
            "KZ_YT": "城镇住宅用地/住宅",
            "KZ_MJ": "共有宗地面积1200.00㎡/房屋建筑面积89.50㎡",
            "KZ_SYQX": "2010年01月01日起2080年12月31日止",
        },
        idempotency_key=f"{unit}:real_estate",
    )
