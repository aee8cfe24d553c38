"""Gateway fixtures: an initialised data dir, the app on ASGI transport, clients with grants.

Tests talk to the real app through ``httpx.AsyncClient(transport=httpx.ASGITransport(app))``; a
separate test starts ``tongban api serve`` as a real server on a loopback port.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.validators import make_uscc
from core.db import Database
from core.net import free_port
from core.runtime import open_database
from core.settings import Settings
from gateway.app import create_app
from gateway.clients import NewClient, add_client
from gateway.ports import LicensePort
from gateway.ratelimit import RateLimiter
from gateway.services import Services, build_services
from migrations import runner
from tongban import setup

DEPT_A = "11510129008589710X"  # a department (USCC from DOMAIN.md)
DEPT_B = "91350100M000100Y43"
TYPE_BIZ = "11100000YL0000012P001"  # 营业执照
TYPE_FOOD = "11100000YL0000012P002"  # 食品经营许可证
PURPOSE = "510129-GS-001"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    """A settable clock for tokens and rate limits (deterministic tests)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_PASSPHRASE = "gateway-tests-" + uuid.uuid4().hex
# the tests' webhook receivers listen on loopback: allowed here as an operator would allow an internal host
_API = {
    "webhook_interval_s": 0,
    "anchor_interval_s": 0,
    "rate_limit_per_s": 1000.0,
    "rate_limit_burst": 1000,
    "webhook_allow": ("127.0.0.1/32",),
}


@dataclass(frozen=True)
class Issued:
    """Licenses issued into the template data dir (ids)."""

    biz_h1: str  # 营业执照 of holder H1
    food_h1: str  # 食品经营许可证 of holder H1 (a type the share client is not granted)
    biz_h2: str  # 营业执照 of holder H2 (revoked by some tests)
    verify_code_biz_h1: str


H1 = make_uscc("92", "510129", "MA0000A1")
H2 = make_uscc("92", "510129", "MA0000B2")


def _issue_samples(settings: Settings) -> Issued:
    from licenses import Holder, IssueRequest, open_registry
    from licenses.pki import Pki

    db = open_database(settings)
    try:
        with Pki(settings, db=db) as pki:
            pki.init()
        reg = open_registry(settings, db=db)
        biz = {
            "KZ_LX": "个体工商户",
            "KZ_JYZ": "张三",
            "KZ_ZCXS": "个人经营",
            "KZ_JYCS": "四川省成都市大邑县晋原街道示例路88号",
            "KZ_JYFW": "餐饮服务；食品销售（仅销售预包装食品）。",
        }
        food = {
            "KZ_FDDBR": "张三",
            "KZ_ZS": "四川省成都市大邑县晋原街道示例路88号",
            "KZ_JYCS": "四川省成都市大邑县晋原街道示例路88号",
            "KZ_ZTYT": "餐饮服务经营者",
            "KZ_JYXM": "热食类食品制售",
            "KZ_RCJDGLJG": "大邑县市场监督管理局",
        }
        b1 = reg.issue(
            IssueRequest(
                "business_license",
                DEPT_A,
                [Holder("大邑县示例餐馆", H1, "001")],
                biz,
                idempotency_key="gw:b1",
            )
        )
        f1 = reg.issue(
            IssueRequest(
                "food_business_license",
                DEPT_A,
                [Holder("大邑县示例餐馆", H1, "001")],
                food,
                idempotency_key="gw:f1",
            )
        )
        b2 = reg.issue(
            IssueRequest(
                "business_license",
                DEPT_A,
                [Holder("大邑县示例面馆", H2, "001")],
                biz,
                idempotency_key="gw:b2",
            )
        )
        return Issued(b1.license_id, f1.license_id, b2.license_id, b1.verify_code)
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def _initialised_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Issued]:
    """One ``tongban init`` + PKI + three licenses per run; each test gets a copy of the data dir."""
    root = tmp_path_factory.mktemp("gw-template") / "var"
    s = Settings(data_dir=root, keys={"passphrase": _PASSPHRASE})
    setup.init(s)
    return root, _issue_samples(s)


@pytest.fixture
def issued(_initialised_template: tuple[Path, Issued]) -> Issued:
    return _initialised_template[1]


@pytest.fixture
def gw_settings(_initialised_template: tuple[Path, Issued], tmp_path: Path) -> Settings:
    data = tmp_path / "var"
    shutil.copytree(_initialised_template[0], data)
    return Settings(data_dir=data, keys={"passphrase": _PASSPHRASE}, api=_API)


@dataclass
class Gateway:
    settings: Settings
    services: Services
    client: httpx.AsyncClient
    db: Database

    def add_client(self, dept: str = DEPT_A, **kw: Any) -> NewClient:
        kw.setdefault("types", [TYPE_BIZ])
        kw.setdefault("purposes", [PURPOSE])
        return add_client(self.db, dept, **kw)

    async def token(self, c: NewClient) -> str:
        r = await self.client.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.secret},
        )
        assert r.status_code == 200, r.text
        tok: str = r.json()["access_token"]
        return tok

    async def auth(self, c: NewClient) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(c)}"}


@pytest.fixture
async def make_gateway(gw_settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """``await make_gateway(licenses=..., limiter=..., clock=...)`` → :class:`Gateway` (closed after)."""
    made: list[tuple[Services, httpx.AsyncClient]] = []

    async def factory(
        *,
        licenses: LicensePort | None = None,
        no_licenses: bool = False,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] | None = None,
        settings: Settings | None = None,
    ) -> Gateway:
        s = settings or gw_settings
        kwargs: dict[str, Any] = {"licenses": licenses, "limiter": limiter}
        if clock is not None:
            kwargs["clock"] = clock
        svc = build_services(s, **kwargs)
        if no_licenses:
            svc.licenses = None
        app = create_app(s, schema_revision=runner.head_revision(), services=svc, background=False)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway.test")
        made.append((svc, client))
        return Gateway(s, svc, client, svc.db)

    yield factory
    for svc, client in made:
        await client.aclose()
        await svc.limiter.close()
        svc.close()


@pytest.fixture
def port() -> Iterator[int]:
    yield free_port()
