"""Tokens, credentials, deny-by-default checks, limits and problem+json — on the ASGI app."""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest
from sqlalchemy import select

from core.jws import sign_compact
from core.keys.base import PLATFORM_KEY
from core.runtime import keystore
from gateway.models import ApiClient
from gateway.ratelimit import MemoryRateLimiter
from gateway.security import check_secret
from tests.gateway.conftest import DEPT_A, PURPOSE, TYPE_BIZ, TYPE_FOOD, FakeClock

pytestmark = pytest.mark.anyio

SEARCH = {
    "holder_code": "91350100M000100Y43",
    "holder_code_type": "001",
    "purpose": PURPOSE,
    "use_cause": "办理变更登记",
}


def _b64(doc: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()


async def test_token_is_es256_with_kid_aud_exp_jti_from_the_token_key(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    c = gw.add_client()
    tok = await gw.token(c)
    header_b64, payload_b64, _sig = tok.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
    ks = keystore(gw.settings)
    assert header["alg"] == "ES256" and header["kid"] == ks.current_token_kid()
    assert claims["sub"] == c.client_id and claims["aud"] == gw.settings.api.audience
    assert claims["exp"] - claims["iat"] == gw.settings.api.token_ttl_s and len(claims["jti"]) == 32
    # the JWKS publishes the token key, never the platform seal
    jwks = (await gw.client.get("/v1/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    platform = ks.signer(PLATFORM_KEY).public_key().public_numbers()
    assert all(
        k["x"] != base64.urlsafe_b64encode(platform.x.to_bytes(32, "big")).rstrip(b"=").decode()
        for k in jwks["keys"]
    )


async def test_secret_is_stored_as_a_salted_hash_only(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    c1, c2 = gw.add_client(), gw.add_client()
    with gw.db.session() as s:
        rows = {r.client_id: r for r in s.scalars(select(ApiClient))}
    r1 = rows[c1.client_id]
    assert c1.secret not in (r1.secret_hash, r1.secret_salt)
    assert r1.secret_salt != rows[c2.client_id].secret_salt
    assert check_secret(c1.secret, r1.secret_kdf, r1.secret_salt, r1.secret_hash)
    assert not check_secret(c2.secret, r1.secret_kdf, r1.secret_salt, r1.secret_hash)


async def test_wrong_or_missing_client_credentials_are_401(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    c = gw.add_client()
    for data in (
        {"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": "wrong"},
        {"grant_type": "client_credentials", "client_id": "c-nobody", "client_secret": c.secret},
        {"grant_type": "client_credentials"},
    ):
        r = await gw.client.post("/v1/oauth/token", data=data)
        assert r.status_code == 401 and r.json()["code"] == "CLIENT_INVALID"
        assert r.json()["error"] == "invalid_client"
    r = await gw.client.post(
        "/v1/oauth/token", auth=(c.client_id, c.secret), data={"grant_type": "client_credentials"}
    )
    assert r.status_code == 200
    r = await gw.client.post("/v1/oauth/token", data={"grant_type": "password"})
    assert r.status_code == 422 and r.json()["error"] == "unsupported_grant_type"


async def test_no_bad_tampered_expired_or_foreign_tokens_are_401(make_gateway) -> None:
    clock = FakeClock(time.time())
    gw = await make_gateway(no_licenses=True, clock=clock)
    c = gw.add_client()
    good = await gw.token(c)
    ks = keystore(gw.settings)
    kid, token_signer = ks.token_signer()
    now = int(clock())
    base = {
        "iss": "tongban",
        "sub": c.client_id,
        "aud": gw.settings.api.audience,
        "iat": now,
        "exp": now + 60,
        "jti": "x" * 32,
    }
    h, p, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=="))
    tampered_claims = dict(claims, sub="c-someone-else")
    cases = {
        "none": (None, "TOKEN_MISSING"),
        "garbage": ("Bearer not-a-token", "TOKEN_INVALID"),
        "tampered payload": (f"Bearer {h}.{_b64(tampered_claims)}.{sig}", "TOKEN_INVALID"),
        "tampered signature": (f"Bearer {h}.{p}.{sig[:-4]}AAAA", "TOKEN_INVALID"),
        "alg none": (f"Bearer {_b64({'alg': 'none', 'kid': kid})}.{p}.", "TOKEN_INVALID"),
        "wrong audience": (
            f"Bearer {sign_compact(token_signer, dict(base, aud='other-api'), kid=kid)}",
            "TOKEN_INVALID",
        ),
        "platform key": (f"Bearer {sign_compact(ks.signer(PLATFORM_KEY), base, kid=kid)}", "TOKEN_INVALID"),
        "unknown kid": (
            f"Bearer {sign_compact(token_signer, base, kid='ffffffffffffffff')}",
            "TOKEN_INVALID",
        ),
        "no exp": (
            f"Bearer {sign_compact(token_signer, {k: v for k, v in base.items() if k != 'exp'}, kid=kid)}",
            "TOKEN_INVALID",
        ),
    }
    for name, (header, code) in cases.items():
        headers = {"Authorization": header} if header else {}
        r = await gw.client.post("/v1/licenses:search", json=SEARCH, headers=headers)
        assert r.status_code == 401, name
        assert r.headers["content-type"] == "application/problem+json", name
        assert r.json()["code"] == code, name
        assert r.headers["www-authenticate"].startswith("Bearer"), name
    # a token this worker has verified before (and remembers) still expires on time
    r = await gw.client.post("/v1/licenses:search", json=SEARCH, headers={"Authorization": f"Bearer {good}"})
    assert r.status_code != 401, r.text
    assert good in gw.services.tokens._verified
    clock.advance(gw.settings.api.token_ttl_s + 1)
    r = await gw.client.post("/v1/licenses:search", json=SEARCH, headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_EXPIRED"


async def test_disabled_client_token_stops_working(make_gateway) -> None:
    from gateway.clients import disable_client

    gw = await make_gateway(no_licenses=True)
    c = gw.add_client()
    headers = await gw.auth(c)
    disable_client(gw.db, c.client_id)
    gw.services.principals.invalidate()
    r = await gw.client.post("/v1/licenses:search", json=SEARCH, headers=headers)
    assert r.status_code == 401


async def test_deny_by_default_purpose_type_and_role_are_403(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    c = gw.add_client(types=[TYPE_BIZ], purposes=[PURPOSE])
    headers = await gw.auth(c)
    r = await gw.client.post(
        "/v1/licenses:search", json=dict(SEARCH, purpose="OTHER-PURPOSE"), headers=headers
    )
    assert r.status_code == 403 and r.json()["code"] == "PURPOSE_NOT_GRANTED"
    r = await gw.client.post("/v1/licenses:search", json=dict(SEARCH, type_code=TYPE_FOOD), headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "TYPE_NOT_GRANTED"
    r = await gw.client.post(
        "/v1/holders/uses:search", json={"holder_code": "x", "holder_code_type": "111"}, headers=headers
    )
    assert r.status_code == 403 and r.json()["code"] == "ROLE_NOT_GRANTED"
    portal = gw.add_client(roles=["holder_portal"], types=[], purposes=[])
    r = await gw.client.post("/v1/licenses:search", json=SEARCH, headers=await gw.auth(portal))
    assert r.status_code == 403 and r.json()["code"] == "ROLE_NOT_GRANTED"


async def test_missing_or_overlong_use_cause_is_422(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    headers = await gw.auth(gw.add_client())
    for body in (
        {k: v for k, v in SEARCH.items() if k != "use_cause"},
        dict(SEARCH, use_cause=""),
        dict(SEARCH, use_cause="   "),
        dict(SEARCH, use_cause="因" * 201),
    ):
        r = await gw.client.post("/v1/licenses:search", json=body, headers=headers)
        assert r.status_code == 422, body
        doc = r.json()
        assert doc["code"] == "VALIDATION_FAILED" and doc["errors"][0]["loc"][-1] == "use_cause"
        assert SEARCH["holder_code"] not in r.text  # inputs are never echoed back
    r = await gw.client.get(f"/v1/licenses/x?purpose={PURPOSE}", headers=headers)
    assert r.status_code == 422


async def test_rate_limit_is_429_with_retry_after_then_recovers(make_gateway) -> None:
    clock = FakeClock(0.0)
    gw = await make_gateway(no_licenses=True, limiter=MemoryRateLimiter(rate=0.5, burst=3, clock=clock))
    c = gw.add_client()
    headers = await gw.auth(c)  # the token endpoint has its own bucket ("token:<id>")
    bad = dict(SEARCH, purpose="NOT-GRANTED")  # a cheap call that still passes the limiter
    codes = [
        (await gw.client.post("/v1/licenses:search", json=bad, headers=headers)).status_code for _ in range(3)
    ]
    assert codes == [403, 403, 403]
    r = await gw.client.post("/v1/licenses:search", json=bad, headers=headers)
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
    assert r.headers["retry-after"] == "2"  # 1 token at 0.5/s
    clock.advance(2.0)
    r = await gw.client.post("/v1/licenses:search", json=bad, headers=headers)
    assert r.status_code == 403
    # another client has its own bucket
    r = await gw.client.post("/v1/licenses:search", json=bad, headers=await gw.auth(gw.add_client()))
    assert r.status_code == 403


async def test_request_size_limit_is_413_with_or_without_content_length(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    headers = await gw.auth(gw.add_client())
    big = json.dumps(dict(SEARCH, use_cause="x" * (gw.settings.api.max_body_bytes + 10))).encode()
    r = await gw.client.post(
        "/v1/licenses:search", content=big, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks():
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    r = await gw.client.post(
        "/v1/licenses:search", content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_unknown_route_and_method_are_problem_json(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    r = await gw.client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert r.headers["content-type"] == "application/problem+json"
    r = await gw.client.delete("/v1/licenses:search")
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_access_log_masks_ids_and_carries_the_request_id(make_gateway, caplog) -> None:
    gw = await make_gateway(no_licenses=True)
    headers = await gw.auth(gw.add_client())
    caplog.set_level(logging.INFO, logger="tongban.access")
    r = await gw.client.get(
        "/v1/licenses/510129199001011238",
        params={"purpose": "NOPE", "use_cause": "x"},
        headers={**headers, "X-Request-ID": "req-42"},
    )
    assert r.status_code == 403 and r.headers["x-request-id"] == "req-42"
    (rec,) = [
        r for r in caplog.records if r.name == "tongban.access" and getattr(r, "request_id", "") == "req-42"
    ]
    assert "510129199001011238" not in rec.path and rec.path.endswith("5101**********1238")
    assert rec.status == 403 and rec.client_id.startswith("c-")


async def test_health_ready_metrics(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    assert (await gw.client.get("/healthz")).json() == {"status": "ok"}
    r = await gw.client.get("/readyz")
    checks = {c["name"]: c["ok"] for c in r.json()["checks"]}
    assert checks["database"] and checks["ledger_writer"] and not checks["licenses"] and r.status_code == 503
    await gw.client.get("/v1/nothing")
    text = (await gw.client.get("/metrics")).text
    assert 'tongban_api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert "tongban_ledger_entries_total" in text


async def test_openapi_and_docs_are_served(make_gateway) -> None:
    gw = await make_gateway(no_licenses=True)
    spec = (await gw.client.get("/openapi.json")).json()
    assert {
        "/v1/licenses:search",
        "/v1/licenses/{license_id}",
        "/v1/licenses/{license_id}/copies",
        "/v1/verify",
        "/v1/holders/uses:search",
        "/v1/oauth/token",
    } <= set(spec["paths"])
    # holder codes never in a URL: no path or query parameter named like a holder code
    for path, ops in spec["paths"].items():
        assert "holder" not in path.replace("/v1/holders/uses:search", "")
        for op in ops.values():
            assert not any("holder" in p["name"] for p in op.get("parameters", []))
    assert (await gw.client.get("/docs")).status_code == 200


async def test_cli_client_add_prints_id_and_one_time_secret(gw_settings, monkeypatch) -> None:
    from typer.testing import CliRunner

    from tongban.cli import app

    monkeypatch.setenv("TONGBAN_DATA_DIR", str(gw_settings.data_dir))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", gw_settings.keys.passphrase.get_secret_value())
    res = CliRunner().invoke(
        app,
        [
            "api",
            "client",
            "add",
            DEPT_A,
            "--types",
            f"{TYPE_BIZ},{TYPE_FOOD}",
            "--purposes",
            PURPOSE,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["client_id"].startswith("c-") and len(doc["client_secret"]) >= 40
    res = CliRunner().invoke(app, ["api", "client", "list", "--json"])
    listed = json.loads(res.output)
    assert listed[0]["grants"] == [
        {"role": "share", "types": sorted([TYPE_BIZ, TYPE_FOOD]), "purposes": [PURPOSE]}
    ]
    assert doc["client_secret"] not in res.output
    res = CliRunner().invoke(app, ["api", "client", "add", DEPT_A, "--types", TYPE_BIZ])
    assert res.exit_code == 2 and "purpose" in res.output
