"""Sharing over the real registry: the authorization matrix with its ledger entries, annotated copies
checked by pdfsig / openssl, verification of copies, status changes, holder portal, webhooks, anchors."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from core import ledger
from core.jws import verify_compact
from gateway.licensing import LicensesAdapter
from gateway.ratelimit import MemoryRateLimiter
from gateway.viewcache import CachedLicensePort
from tests.gateway.conftest import DEPT_A, DEPT_B, H1, H2, PURPOSE, TYPE_BIZ, TYPE_FOOD, FakeClock, Issued

pytestmark = pytest.mark.anyio
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _search(holder: str, **kw: str) -> dict[str, str]:
    return {
        "holder_code": holder,
        "holder_code_type": "001",
        "purpose": PURPOSE,
        "use_cause": "办理食品经营许可",
        **kw,
    }


def _entries(gw, client_id: str) -> list[ledger.LedgerEntry]:
    with gw.db.session() as s:
        return ledger.entries(s, f"use.{client_id}")


async def test_authorization_matrix_and_exactly_one_ledger_entry_per_allowed_call(
    make_gateway, issued: Issued
) -> None:
    clock = FakeClock(0.0)
    gw = await make_gateway(limiter=MemoryRateLimiter(rate=0.001, burst=11, clock=clock))
    c = gw.add_client(types=[TYPE_BIZ], purposes=[PURPOSE])
    headers = await gw.auth(c)
    n = len(_entries(gw, c.client_id))
    assert n == 0

    async def call(method: str, url: str, **kw):
        return await gw.client.request(method, url, headers=kw.pop("headers", headers), **kw)

    # allowed: search (only granted types come back, the food license stays invisible)
    r = await call("POST", "/v1/licenses:search", json=_search(H1))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [lic["license_id"] for lic in body["licenses"]] == [issued.biz_h1]
    assert issued.food_h1 not in r.text and TYPE_FOOD not in r.text
    assert body["licenses"][0]["holders"][0]["code_masked"] != H1
    entries = _entries(gw, c.client_id)
    assert (
        len(entries) == 1 and body["use"]["seq"] == 1 and body["use"]["entry_hash"] == entries[0].entry_hash
    )
    doc = json.loads(entries[0].payload)
    assert doc["op"] == "search" and doc["license_ids"] == [issued.biz_h1] and doc["purpose"] == PURPOSE
    assert (
        doc["cause"] == "办理食品经营许可" and H1 not in entries[0].payload and len(doc["holder_key"]) == 64
    )

    # allowed: metadata of a granted license; a license of another type is "not found" (and ledgered as such)
    r = await call("GET", f"/v1/licenses/{issued.biz_h1}", params={"purpose": PURPOSE, "use_cause": "核对"})
    assert r.status_code == 200 and r.json()["license"]["type_code"] == TYPE_BIZ
    r_food = await call(
        "GET", f"/v1/licenses/{issued.food_h1}", params={"purpose": PURPOSE, "use_cause": "核对"}
    )
    r_none = await call("GET", "/v1/licenses/1.2.3.nothing", params={"purpose": PURPOSE, "use_cause": "核对"})
    assert r_food.status_code == r_none.status_code == 404
    assert r_food.json()["detail"] == r_none.json()["detail"] and r_food.json()["code"] == "LICENSE_NOT_FOUND"
    assert len(_entries(gw, c.client_id)) == 4

    # refused calls leave nothing on the ledger
    refused = [
        (await call("POST", "/v1/licenses:search", json=_search(H1), headers={}), 401),
        (
            await call(
                "POST", "/v1/licenses:search", json=_search(H1), headers={"Authorization": "Bearer x.y.z"}
            ),
            401,
        ),
        (await call("POST", "/v1/licenses:search", json=_search(H1, type_code=TYPE_FOOD)), 403),
        (await call("POST", "/v1/licenses:search", json=_search(H1, purpose="NOT-GRANTED")), 403),
        (await call("POST", "/v1/licenses:search", json=_search(H1, use_cause="")), 422),
        (await call("POST", "/v1/licenses:search", json=_search(H1, use_cause="x" * 201)), 422),
    ]
    assert [r.status_code for r, _ in refused] == [code for _, code in refused]
    assert len(_entries(gw, c.client_id)) == 4
    # authenticated calls spend the bucket (11): 4 allowed + 2 forbidden + 2 invalid so far
    statuses = [(await call("POST", "/v1/licenses:search", json=_search(H2))).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    assert len(_entries(gw, c.client_id)) == 7
    with gw.db.session() as s:
        (report,) = ledger.verify_chain(s, f"use.{c.client_id}")
    assert report.ok and report.entries == 7


async def test_cause_with_a_resident_id_is_masked_on_the_ledger(make_gateway, issued: Issued) -> None:
    gw = await make_gateway()
    c = gw.add_client()
    r = await gw.client.post(
        "/v1/licenses:search",
        json=_search(H1, use_cause="为510129199001011238办理变更"),
        headers=await gw.auth(c),
    )
    assert r.status_code == 200
    (entry,) = _entries(gw, c.client_id)
    assert "510129199001011238" not in entry.payload and "5101**********1238" in entry.payload


def _signature_parts(pdf: bytes) -> tuple[bytes, bytes]:
    """(signed bytes, DER CMS) of the first signature, cut as FACTS.md says."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m
    a, b, c, d = (int(x) for x in m.groups())
    signed = pdf[a : a + b] + pdf[c : c + d]
    hexsig = pdf[a + b : c].strip().lstrip(b"<").rstrip(b">")
    der = bytes.fromhex(hexsig.decode())
    # trim the zero padding to the DER length
    length = der[1]
    if length & 0x80:
        nbytes = length & 0x7F
        total = 2 + nbytes + int.from_bytes(der[2 : 2 + nbytes], "big")
    else:
        total = 2 + length
    return signed, der[:total]


@pytest.mark.tools
async def test_annotated_copy_is_a_new_platform_certified_document(
    make_gateway, issued: Issued, tmp_path: Path
) -> None:
    from licenses import trust as license_trust
    from licenses.copies import async_verify_document
    from licenses.pki import Pki

    gw = await make_gateway()
    a = gw.add_client(DEPT_A, types=[TYPE_BIZ], purposes=[PURPOSE])
    b = gw.add_client(DEPT_B, types=[TYPE_BIZ], purposes=[PURPOSE])
    ha = await gw.auth(a)
    until = TODAY + timedelta(days=3)
    r = await gw.client.post(
        f"/v1/licenses/{issued.biz_h1}/copies",
        json={"purpose": PURPOSE, "use_cause": "办理食品经营许可", "until": str(until)},
        headers=ha,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    pdf = r.content
    (entry,) = _entries(gw, a.client_id)
    doc = json.loads(entry.payload)
    assert doc["op"] == "copy" and doc["payload_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert doc["extra"] == {"recipient": DEPT_A, "until": str(until)}
    path = tmp_path / "copy.pdf"
    path.write_bytes(pdf)

    # the annotation is in the page text
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert (
        "此件由" in text
        and f"仅供办理{PURPOSE}使用" in text
        and f"{until.year}年{until.month}月{until.day}日" in text.replace(" ", "")
    )

    # pdfsig: the signature is intact
    out = subprocess.run(["pdfsig", str(path)], check=False, capture_output=True, text=True).stdout
    assert "Signature is Valid." in out, out
    # openssl cms -verify against our roots (FACTS.md)
    with Pki(gw.settings, db=gw.db) as pki:
        roots = pki.trust_roots()
        platform_subject = pki.platform_seal().certificate.subject.rfc4514_string()
    signed, der = _signature_parts(pdf)
    (tmp_path / "signed.bin").write_bytes(signed)
    (tmp_path / "sig.der").write_bytes(der)
    (tmp_path / "roots.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in roots))
    res = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "signed.bin"),
            "-CAfile",
            str(tmp_path / "roots.pem"),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "Verification successful" in res.stderr, res.stderr

    # our verifier: a copy, with purpose, recipient and expiry; sealed by the platform
    hv = {**ha, "X-Request-ID": "verify-1"}
    r = await gw.client.post(
        "/v1/verify",
        files={"file": ("copy.pdf", pdf, "application/pdf")},
        data={"purpose": PURPOSE, "use_cause": "收件核验"},
        headers=hv,
    )
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["valid"] is True and rep["kind"] == "copy" and rep["license_id"] == issued.biz_h1
    assert rep["copy"] == {"purpose": PURPOSE, "recipient": DEPT_A, "until": str(until)}
    # presented by another department
    r = await gw.client.post(
        "/v1/verify",
        files={"file": ("copy.pdf", pdf, "application/pdf")},
        data={"purpose": PURPOSE, "use_cause": "收件核验"},
        headers=await gw.auth(b),
    )
    assert r.json()["valid"] is False and r.json()["reasons"] == ["copy_recipient_mismatch"]
    # after the expiry date
    tr = license_trust(gw.settings, db=gw.db)
    port = gw.services.licenses
    adapter = port.inner if isinstance(port, CachedLicensePort) else port
    assert isinstance(adapter, LicensesAdapter)
    reg = adapter.registry
    later = datetime.combine(
        until + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo("Asia/Shanghai")
    ).astimezone(UTC)
    expired = await async_verify_document(
        pdf, trust=tr, registry=reg, provider=adapter.copies.provider, as_dept=DEPT_A, now=later
    )
    assert expired.reasons == ["copy_expired"]
    assert (
        await async_verify_document(
            pdf, trust=tr, registry=reg, provider=adapter.copies.provider, as_dept=DEPT_A
        )
    ).valid
    assert expired.checks["signature"]["signer"] == platform_subject

    # no byte range of the original that verifies on its own
    original = reg.file(issued.biz_h1)
    _osigned, osig = _signature_parts(original)
    assert osig not in pdf and osig.hex().encode() not in pdf.lower()
    cuts = [m.end() for m in re.finditer(rb"%%EOF", pdf)]
    for cut in cuts:
        piece = await async_verify_document(
            pdf[:cut], trust=tr, registry=reg, provider=adapter.copies.provider
        )
        assert piece.certified_sha256 != reg.get(issued.biz_h1).certified_sha256
        assert piece.kind == "copy" or not piece.valid

    # after the license is revoked
    issuer = gw.add_client(DEPT_A, roles=["status"], types=[TYPE_BIZ], purposes=[])
    r = await gw.client.post(
        f"/v1/licenses/{issued.biz_h1}/status",
        json={"action": "revoke", "reason": "依法吊销（测试）"},
        headers=await gw.auth(issuer),
    )
    assert r.status_code == 200 and r.json()["license"]["status"] == "07"
    r = await gw.client.post(
        "/v1/verify",
        files={"file": ("copy.pdf", pdf, "application/pdf")},
        data={"purpose": PURPOSE, "use_cause": "收件核验"},
        headers=ha,
    )
    assert r.json()["valid"] is False and r.json()["reasons"] == ["status_not_valid"]
    # and no new copy is made of a revoked license
    r = await gw.client.post(
        f"/v1/licenses/{issued.biz_h1}/copies",
        json={"purpose": PURPOSE, "use_cause": "再次办理", "until": str(until)},
        headers=ha,
    )
    assert r.status_code == 409 and r.json()["code"] == "COPY_REFUSED"


async def test_copy_until_is_bounded(make_gateway, issued: Issued) -> None:
    gw = await make_gateway()
    h = await gw.auth(gw.add_client())
    for until in (TODAY - timedelta(days=1), TODAY + timedelta(days=gw.settings.api.copy_max_days + 1)):
        r = await gw.client.post(
            f"/v1/licenses/{issued.biz_h1}/copies",
            json={"purpose": PURPOSE, "use_cause": "x", "until": str(until)},
            headers=h,
        )
        assert r.status_code == 422


async def test_status_changes_only_by_the_issuing_department(make_gateway, issued: Issued) -> None:
    gw = await make_gateway()
    other = gw.add_client(DEPT_B, roles=["status"], types=[TYPE_BIZ], purposes=[])
    share_only = gw.add_client(DEPT_A)
    issuer = gw.add_client(DEPT_A, roles=["status"], types=[TYPE_BIZ], purposes=[])
    body = {"action": "suspend", "reason": "暂扣（测试）"}
    r = await gw.client.post(f"/v1/licenses/{issued.biz_h2}/status", json=body, headers=await gw.auth(other))
    assert r.status_code == 403 and r.json()["code"] == "NOT_ISSUER"
    r = await gw.client.post(
        f"/v1/licenses/{issued.biz_h2}/status", json=body, headers=await gw.auth(share_only)
    )
    assert r.status_code == 403 and r.json()["code"] == "ROLE_NOT_GRANTED"
    hi = await gw.auth(issuer)
    r = await gw.client.post(f"/v1/licenses/{issued.food_h1}/status", json=body, headers=hi)
    assert r.status_code == 404  # a type outside the status grant
    r = await gw.client.post(f"/v1/licenses/{issued.biz_h2}/status", json=body, headers=hi)
    assert r.status_code == 200 and r.json()["license"]["status"] == "02"
    r = await gw.client.post(f"/v1/licenses/{issued.biz_h2}/status", json=body, headers=hi)
    assert r.status_code == 409 and r.json()["code"] == "STATUS_TRANSITION_REFUSED"
    assert len(_entries(gw, issuer.client_id)) == 1


async def test_holder_portal_lists_who_used_the_licenses_and_why(make_gateway, issued: Issued) -> None:
    gw = await make_gateway()
    a = gw.add_client(DEPT_A)
    ha = await gw.auth(a)
    await gw.client.post("/v1/licenses:search", json=_search(H1, use_cause="办理餐饮许可"), headers=ha)
    await gw.client.get(
        f"/v1/licenses/{issued.biz_h1}", params={"purpose": PURPOSE, "use_cause": "核对信息"}, headers=ha
    )
    portal = gw.add_client(DEPT_B, roles=["holder_portal"], types=[], purposes=[])
    r = await gw.client.post(
        "/v1/holders/uses:search",
        json={"holder_code": H1, "holder_code_type": "001"},
        headers=await gw.auth(portal),
    )
    assert r.status_code == 200, r.text
    uses = r.json()["uses"]
    assert [(u["op"], u["cause"], u["dept_code"]) for u in uses] == [
        ("metadata", "核对信息", DEPT_A),
        ("search", "办理餐饮许可", DEPT_A),
    ]
    assert all(u["license_id"] == issued.biz_h1 for u in uses)
    r = await gw.client.post(
        "/v1/holders/uses:search",
        json={"holder_code": H2, "holder_code_type": "001"},
        headers=await gw.auth(portal),
    )
    assert r.json()["count"] == 0
    assert len(_entries(gw, portal.client_id)) == 2  # the portal's own reads are ledgered too


class _Receiver:
    """A webhook receiver on loopback that fails its first ``fail_first`` calls."""

    def __init__(self, fail_first: int) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls.append((dict(self.headers), body))
                self.send_response(500 if len(outer.calls) <= outer.fail_first else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_webhook_on_status_change_is_signed_and_retried(make_gateway, issued: Issued) -> None:
    from gateway import webhooks
    from gateway.workers import run_webhooks_once

    gw = await make_gateway(settings=None)
    receiver = _Receiver(fail_first=1)
    try:
        user = gw.add_client(DEPT_B)
        bystander = gw.add_client(DEPT_B)
        hu = await gw.auth(user)
        r = await gw.client.post("/v1/subscriptions", json={"url": receiver.url}, headers=hu)
        assert r.status_code == 201
        await gw.client.post(
            "/v1/subscriptions", json={"url": receiver.url}, headers=await gw.auth(bystander)
        )
        await gw.client.get(
            f"/v1/licenses/{issued.biz_h2}", params={"purpose": PURPOSE, "use_cause": "核对"}, headers=hu
        )
        issuer = gw.add_client(DEPT_A, roles=["status"], types=[TYPE_BIZ], purposes=[])
        r = await gw.client.post(
            f"/v1/licenses/{issued.biz_h2}/status",
            json={"action": "revoke", "reason": "吊销（测试）"},
            headers=await gw.auth(issuer),
        )
        assert r.status_code == 200
        with httpx.Client(timeout=5) as http:
            first = run_webhooks_once(gw.services, http)
            assert (first.delivered, first.retried) == (0, 1)  # receiver said 500
            with gw.db.session() as s:  # make the retry due now
                from gateway.models import ApiWebhookDelivery

                for d in s.query(ApiWebhookDelivery):
                    d.next_attempt_at = "2000-01-01T00:00:00"
            second = run_webhooks_once(gw.services, http)
            assert second.delivered == 1
            assert run_webhooks_once(gw.services, http).delivered == 0  # nothing twice
        assert len(receiver.calls) == 2  # only the department that used the license
        headers, body = receiver.calls[-1]
        doc = json.loads(body)
        assert (
            doc["license_id"] == issued.biz_h2
            and doc["status"] == "07"
            and doc["kind"] == "license.status_changed"
        )
        jws = headers[webhooks.SIGNATURE_HEADER]
        jwks = (await gw.client.get("/v1/jwks.json")).json()
        from joserfc.jwk import ECKey

        kid = json.loads(base64.urlsafe_b64decode(jws.split(".")[0] + "=="))["kid"]
        (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
        claims = verify_compact(jws, ECKey.import_key(jwk).get_op_key("verify"))
        assert (
            claims["sha256"] == hashlib.sha256(body).hexdigest() and claims["delivery"] == doc["delivery_id"]
        )
    finally:
        receiver.close()


async def test_anchors_timestamp_the_heads_and_audit_verify_checks_them(make_gateway, issued: Issued) -> None:
    from sqlalchemy import update

    from gateway.anchors import anchor_heads, verify_anchors
    from gateway.workers import timestamper

    gw = await make_gateway()
    c = gw.add_client()
    h = await gw.auth(c)
    for _ in range(3):
        await gw.client.post("/v1/licenses:search", json=_search(H1), headers=h)
    stamp, label = timestamper(gw.settings)
    anchored = anchor_heads(gw.db, stamp, tsa_label=label)
    assert anchored is not None and "in-process" in label
    assert [f"use.{c.client_id}", 3] in [hd[:2] for hd in anchored["heads"]]
    assert anchor_heads(gw.db, stamp, tsa_label=label) is None  # nothing new
    with gw.db.session() as s:
        (check,) = verify_anchors(s)
    assert check.ok and check.gen_time
    # a consistently re-hashed chain is still caught by the anchor
    with gw.db.session() as s:
        e = ledger.entries(s, f"use.{c.client_id}")[2]
        s.execute(update(ledger.LedgerEntry).where(ledger.LedgerEntry.id == e.id).values(entry_hash="0" * 64))
    with gw.db.session() as s:
        (check,) = verify_anchors(s)
    assert not check.ok and any("differs" in p for p in check.problems)


@pytest.mark.parametrize("cause", ["核对\r\n伪造的一行", "核对\u202e反转", "核\u200b对", "核对\x1b[31m"])
async def test_a_use_cause_with_control_bidi_or_zero_width_characters_is_refused(
    make_gateway, issued: Issued, cause: str
) -> None:
    """The use ledger is read by the holder: a cause is one line of visible text (issue 20)."""
    gw = await make_gateway()
    h = await gw.auth(gw.add_client())
    r = await gw.client.get(
        f"/v1/licenses/{issued.biz_h1}", params={"purpose": PURPOSE, "use_cause": cause}, headers=h
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "VALIDATION_FAILED" and "use_cause" in r.text
