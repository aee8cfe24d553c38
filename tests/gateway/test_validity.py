"""The end of validity on the HTTP face (issue 17, item 2): the public verify page (the QR target)
and ``POST /v1/verify`` say in Chinese that a license is past its 有效期截止日期, whatever the registry
status; ``at`` judges another moment."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.validators import make_uscc
from licenses import Holder, IssueRequest, LicenseRegistry, open_registry
from tests.gateway.conftest import DEPT_A, PURPOSE, TYPE_BIZ, TYPE_FOOD, Issued

H3 = make_uscc("92", "510129", "MA0000C3")

pytestmark = pytest.mark.anyio

BIZ = {
    "KZ_LX": "个体工商户",
    "KZ_JYZ": "李四",
    "KZ_ZCXS": "个人经营",
    "KZ_JYCS": "四川省成都市大邑县晋原街道示例路99号",
    "KZ_JYFW": "零售。",
}


def _expired(gw) -> tuple[str, str, bytes]:
    """A 营业执照 issued in 2023 with an end of validity of 2024-01-01 (registry status still 01)."""
    reg = open_registry(gw.settings, db=gw.db)
    then = datetime(2023, 6, 1, 2, 0, tzinfo=UTC)
    old = LicenseRegistry(reg.db, reg.store, reg.seals, clock=lambda: then)
    req = IssueRequest("business_license", DEPT_A, [Holder("大邑县过期小店", H3, "001")], BIZ)
    lic = old.issue(replace(req, valid_until=date(2024, 1, 1), idempotency_key="gw:expired"))
    return lic.license_id, lic.verify_code, reg.file(lic.license_id)


async def test_the_verify_page_says_expired_with_the_end_date(make_gateway, issued: Issued) -> None:
    gw = await make_gateway()
    lid, code, _pdf = await asyncio.to_thread(_expired, gw)
    r = await gw.client.get(f"/verify/{lid}", params={"code": code})
    assert r.status_code == 200
    html = r.text
    assert 'data-outcome="not_valid"' in html and "无效（已超过有效期）" in html
    assert re.search(r'data-code="license_expired">证照已超过有效期（有效期截止日期 2024-01-01）<', html), (
        html
    )
    assert '<dd id="status">有效</dd>' in html  # the registry still says 01: the page judges the date
    # a long-term license on the same page: valid, 长期
    r = await gw.client.get(f"/verify/{issued.biz_h1}", params={"code": issued.verify_code_biz_h1})
    assert 'data-outcome="valid"' in r.text and '<dd id="valid-until">长期</dd>' in r.text


async def test_the_upload_form_says_expired(make_gateway) -> None:
    gw = await make_gateway()
    _lid, _code, pdf = await asyncio.to_thread(_expired, gw)
    r = await gw.client.post("/verify/upload", files={"file": ("l.pdf", pdf, "application/pdf")})
    assert r.status_code == 200 and 'data-outcome="not_valid"' in r.text
    assert "有效期截止日期 2024-01-01" in r.text


async def test_api_verify_reports_license_expired_in_chinese_and_judges_at(
    make_gateway, issued: Issued
) -> None:
    gw = await make_gateway()
    lid, _code, pdf = await asyncio.to_thread(_expired, gw)
    c = gw.add_client(types=[TYPE_BIZ, TYPE_FOOD])
    h = await gw.auth(c)
    form = {"purpose": PURPOSE, "use_cause": "收件核验"}
    r = await gw.client.post(
        "/v1/verify", files={"file": ("l.pdf", pdf, "application/pdf")}, data=form, headers=h
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["valid"] is False and doc["reasons"] == ["license_expired"] and doc["license_id"] == lid
    assert doc["messages"] == ["证照已超过有效期（有效期截止日期 2024-01-01）"]
    assert doc["validity"]["until"] == "2024-01-01"
    # a valid 5-year license judged the day after its end: expired; on its end day: valid
    reg = open_registry(gw.settings, db=gw.db)
    food = reg.get(issued.food_h1)
    assert food.valid_until is not None
    food_pdf = reg.file(issued.food_h1)
    day_after = (date.fromisoformat(food.valid_until) + timedelta(days=1)).isoformat()
    for at, valid in ((food.valid_until, True), (day_after, False)):
        r = await gw.client.post(
            "/v1/verify",
            files={"file": ("f.pdf", food_pdf, "application/pdf")},
            data={**form, "at": at},
            headers=h,
        )
        assert r.status_code == 200 and r.json()["valid"] is valid, (at, r.json())
        if not valid:
            assert r.json()["reasons"] == ["license_expired"]
    r = await gw.client.post(
        "/v1/verify",
        files={"file": ("f.pdf", food_pdf, "application/pdf")},
        data={**form, "at": "not a date"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"


async def test_a_department_that_used_a_license_hears_of_its_expiry(make_gateway) -> None:
    """The expiry step moves the license to 05; the department that read it through the API and
    subscribed gets one signed webhook saying 05 失效 (the step license_expiry's last task runs)."""
    import json

    from gateway.webhooks import SIGNATURE_HEADER, notify_status_changes
    from pipeline import FlowContext
    from pipeline.expiry import expire_due
    from tests.gateway.conftest import DEPT_B
    from tests.gateway.test_sharing import _Receiver

    gw = await make_gateway()
    lid, _code, _pdf = await asyncio.to_thread(_expired, gw)
    receiver = _Receiver(fail_first=0)
    ctx = FlowContext(gw.settings, database=gw.db)
    try:
        user = gw.add_client(DEPT_B)
        h = await gw.auth(user)
        r = await gw.client.post("/v1/subscriptions", json={"url": receiver.url}, headers=h)
        assert r.status_code == 201
        r = await gw.client.get(
            f"/v1/licenses/{lid}", params={"purpose": PURPOSE, "use_cause": "核对"}, headers=h
        )
        assert r.status_code == 200
        result = await asyncio.to_thread(expire_due, ctx)
        assert lid in result["license_ids"]
        stats = await asyncio.to_thread(notify_status_changes, ctx)
        assert stats["delivered"] == 1, stats
        headers, body = receiver.calls[0]
        doc = json.loads(body)
        assert (doc["license_id"], doc["status"], doc["status_name"], doc["previous_status"]) == (
            lid,
            "05",
            "失效",
            "01",
        )
        assert SIGNATURE_HEADER in headers
        assert (await asyncio.to_thread(notify_status_changes, ctx))["delivered"] == 0  # nothing twice
        assert (await asyncio.to_thread(expire_due, ctx))["expired"] == 0
        assert len(receiver.calls) == 1
    finally:
        receiver.close()
        ctx.close()
