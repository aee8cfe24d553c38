"""``GET /v1/joint-cases/{joint_no}``: a joint case's one result (联办件) under the sharing API's
rules: 401 without a token, 403 for a purpose outside the grant, 404 for an unknown joint case,
licenses of types not granted counted but not named, one use-ledger entry per allowed call."""

from __future__ import annotations

import json

import pytest

from core import ledger
from core.jointcases import GRANTED, JointCase
from tests.gateway.conftest import PURPOSE, TYPE_BIZ, TYPE_FOOD, Issued

pytestmark = pytest.mark.anyio
NO = "LB5101292026042900001"


def _record(gw: object, issued: Issued) -> None:
    result = {
        "joint_no": NO,
        "theme_code": "T5101290002",
        "theme": "开办企业一件事",
        "state": GRANTED,
        "reason": None,
        "members": [
            {
                "task_code": "T1",
                "item": "个体工商户设立登记",
                "project_no": "P1",
                "result_type": "1",
                "result_date": "2026-05-07",
                "type_code": TYPE_BIZ,
                "license_id": issued.biz_h1,
            },
            {
                "task_code": "T2",
                "item": "食品经营许可(新办)",
                "project_no": "P2",
                "result_type": "1",
                "result_date": "2026-05-06",
                "type_code": TYPE_FOOD,
                "license_id": issued.food_h1,
            },
            {
                "task_code": "T3",
                "item": "公章刻制备案",
                "project_no": "P3",
                "result_type": "1",
                "result_date": "2026-04-30",
                "type_code": None,
                "license_id": None,
            },
        ],
        "licenses": [issued.biz_h1, issued.food_h1],
    }
    with gw.db.session() as s:  # type: ignore[attr-defined]
        s.add(
            JointCase(
                joint_no=NO,
                theme_code="T5101290002",
                region_code="510129",
                accept_date="2026-04-29",
                promise_date="2026-05-07",
                provisional=False,
                members=3,
                joint_days=3,
                sequential_days=5,
                state=GRANTED,
                done_date="2026-05-07",
                result=json.dumps(result, ensure_ascii=False),
                result_at="2026-05-07T02:00:00+00:00",
                updated_at="2026-05-07T02:00:00+00:00",
            )
        )


async def test_joint_case_result_under_the_sharing_rules(make_gateway, issued: Issued) -> None:
    gw = await make_gateway()
    _record(gw, issued)
    c = gw.add_client()  # granted TYPE_BIZ only
    q = {"purpose": PURPOSE, "use_cause": "办理开办企业一件事"}
    assert (await gw.client.get(f"/v1/joint-cases/{NO}", params=q)).status_code == 401
    headers = await gw.auth(c)
    bad = await gw.client.get(f"/v1/joint-cases/{NO}", params={**q, "purpose": "NOPE"}, headers=headers)
    assert bad.status_code == 403
    missing = await gw.client.get("/v1/joint-cases/LB0000", params=q, headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    r = await gw.client.get(f"/v1/joint-cases/{NO}", params=q, headers=headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    jc = doc["joint_case"]
    assert jc["licenses"] == [issued.biz_h1] and jc["licenses_withheld"] == 1
    assert [m["license_id"] for m in jc["members"]] == [issued.biz_h1, None, None]
    assert jc["promise_date"] == "2026-05-07" and jc["state"] == GRANTED
    assert doc["use"]["stream"]
    with gw.db.session() as s:
        entries = [e for e in ledger.entries(s, doc["use"]["stream"]) if "joint_case" in e.payload]
    assert [json.loads(e.payload)["result"] for e in entries] == ["not_found", "ok"]
    spec = (await gw.client.get("/openapi.json")).json()
    op = spec["paths"]["/v1/joint-cases/{joint_no}"]["get"]
    assert {"200", "401", "403", "404"} <= set(op["responses"])
