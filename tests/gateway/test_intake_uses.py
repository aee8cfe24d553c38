"""Issue 18 (免提交): a license reused at intake instead of a paper document is one use in the use
ledger, listed by the holder portal's route (``POST /v1/holders/uses:search``) beside the sharing
API's uses — op ``intake``, purpose 办事, the case number as cause, the case's department — once,
however often the materials flow runs; another holder's portal sees nothing of it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from core.casestore import AcceptedRow, CaseStore
from pipeline import FlowContext, materials
from tests.gateway.conftest import DEPT_A, DEPT_B, H1, H2, Issued

pytestmark = pytest.mark.anyio


def _rows(license_id: str) -> list[dict[str, Any]]:
    pno = "510129261203900000001"
    accept = {
        "table": "up_pro_accept",
        "project_no": pno,
        "task_code": "11510129008589710X4000120002000",
        "org_code": DEPT_A,
        "applyer_type": "6",
        "applyer_id_type": "001",
        "applyer_id": H1,
        "accept_date": "2026-12-03",
        "row_guid": uuid.uuid4().hex,
    }
    ref = {
        "table": "up_pro_material",
        "project_no": pno,
        "material_name": "营业执照(电子证照免提交)",
        "material_type": "4",
        "material_state": "4",
        "license_ref": license_id,
        "row_guid": uuid.uuid4().hex,
    }
    return [accept, ref]


async def test_a_license_reused_at_intake_is_listed_in_the_holders_uses_once(
    make_gateway, issued: Issued
) -> None:
    gw = await make_gateway()
    rows = _rows(issued.biz_h1)
    with gw.db.session() as s:
        CaseStore().add_accepted(
            s,
            [
                AcceptedRow(
                    r["row_guid"], r["table"], r["project_no"], None, "I", "d" * 64, None, json.dumps(r)
                )
                for r in rows
            ],
        )
    ctx = FlowContext(gw.settings, database=gw.db)
    try:
        assert materials.run(ctx)["uses_recorded"] == 1
        assert materials.run(ctx)["uses_recorded"] == 0  # re-run: nothing twice
    finally:
        ctx.close()

    portal = gw.add_client(DEPT_B, roles=["holder_portal"], types=[], purposes=[])
    headers = await gw.auth(portal)
    r = await gw.client.post(
        "/v1/holders/uses:search", json={"holder_code": H1, "holder_code_type": "001"}, headers=headers
    )
    assert r.status_code == 200, r.text
    uses = [u for u in r.json()["uses"] if u["op"] == "intake"]
    assert [(u["license_id"], u["purpose"], u["cause"], u["dept_code"], u["result"]) for u in uses] == [
        (issued.biz_h1, "办事", rows[0]["project_no"], DEPT_A, "verified")
    ]
    assert H1 not in r.text  # the holder's code is never echoed in clear
    other = await gw.client.post(
        "/v1/holders/uses:search", json={"holder_code": H2, "holder_code_type": "001"}, headers=headers
    )
    assert [u for u in other.json()["uses"] if u["op"] == "intake"] == []
