"""The public verify page tells nothing to someone without the license (issue 20): an unknown id and
a known id with a wrong code get the same answer, and a forged file that names a real license's
identifier is judged without any of the registry's record shown (type, issuer, date, holder)."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.gateway.conftest import Issued

pytestmark = pytest.mark.anyio


def _body(html: str) -> str:
    """The page without the per-request nonce of its CSP (if any)."""
    return re.sub(r'nonce="[^"]*"', 'nonce=""', html)


async def test_an_unknown_id_and_a_wrong_code_get_one_answer(make_gateway, issued: Issued) -> None:
    gw = await make_gateway()
    unknown = await gw.client.get(
        "/verify",
        params={"id": "1.2.156.3005.2.11100000YL0000012P001.000000000000.001.1", "code": "ABCD-EFGH"},
    )
    wrong = await gw.client.get("/verify", params={"id": issued.biz_h1, "code": "ABCD-EFGH"})
    empty = await gw.client.get(f"/verify/{issued.biz_h1}")
    assert unknown.status_code == wrong.status_code == empty.status_code == 404
    assert _body(unknown.text) == _body(wrong.text) == _body(empty.text)
    assert 'data-outcome="unknown"' in wrong.text
    right = await gw.client.get("/verify", params={"id": issued.biz_h1, "code": issued.verify_code_biz_h1})
    assert right.status_code == 200 and 'data-outcome="valid"' in right.text


def _forged(gw, license_id: str) -> bytes:
    """The real license's face (its identifier and license.json), sealed by a PKI of our own making."""
    from licenses import open_registry
    from tests.licenses.throwaway_pki import foreign_sealed

    return foreign_sealed(open_registry(gw.settings, db=gw.db).face(license_id))


async def test_a_forged_file_naming_a_real_license_shows_nothing_of_the_registry(
    make_gateway, issued: Issued
) -> None:
    gw = await make_gateway()
    forged = await asyncio.to_thread(_forged, gw, issued.biz_h1)
    r = await gw.client.post("/verify/upload", files={"file": ("l.pdf", forged, "application/pdf")})
    assert r.status_code == 200
    assert 'data-outcome="not_valid"' in r.text and 'data-code="untrusted_issuer"' in r.text
    for shown in ('id="license"', 'id="license-name"', 'id="issuer"', 'id="holder"', 'id="status"'):
        assert shown not in r.text, shown
    # the genuine file on the same form shows the record
    from licenses import open_registry

    genuine = await asyncio.to_thread(lambda: open_registry(gw.settings, db=gw.db).file(issued.biz_h1))
    r = await gw.client.post("/verify/upload", files={"file": ("l.pdf", genuine, "application/pdf")})
    assert 'data-outcome="valid"' in r.text and 'id="status"' in r.text


async def test_the_verify_page_carries_its_security_headers(make_gateway, issued: Issued) -> None:
    """No script may run on the public page (CSP default-src 'none'), nothing is cached or sniffed,
    and the license's URL (with its code) is not sent on as a referrer."""
    gw = await make_gateway()
    for r in (
        await gw.client.get("/verify", params={"id": issued.biz_h1, "code": issued.verify_code_biz_h1}),
        await gw.client.get("/verify", params={"id": "x", "code": "y"}),
    ):
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
        assert "<script" not in r.text
