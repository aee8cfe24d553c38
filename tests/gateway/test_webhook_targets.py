"""Webhooks do not reach internal addresses (SSRF, issue 20): a subscription to loopback, a private
or link-local network or a name that resolves there is refused with its reason, unless an operator
allows that host or network; a target that resolves inward later is not sent to."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from gateway.webhook_targets import WebhookTargetRefused, check_target


def _resolver(table: dict[str, Sequence[str]]):
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8793/api/v2/dags", "loopback"),
        ("http://[::1]/x", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.9/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
        ("http://100.64.0.1/x", "shared"),
        ("http://0.0.0.0/x", "unspecified"),
        ("http://inward.example/hook", "private"),  # a public-looking name that resolves inside
        ("ftp://hooks.example/x", "scheme"),
        ("http://user:pw@hooks.example/x", "user info"),
        ("http://nowhere.example/x", "does not resolve"),
        ("http://[::1/x", "malformed"),
        ("http://hooks.example:99999/x", "port"),
    ],
)
def test_an_internal_or_malformed_target_is_refused_with_its_reason(url: str, why: str) -> None:
    resolve = _resolver({"inward.example": ["10.9.9.9"], "hooks.example": ["114.114.114.114"]})
    with pytest.raises(WebhookTargetRefused) as err:
        check_target(url, resolve=resolve)
    assert why in str(err.value)
    assert err.value.status == 422


def test_a_public_target_passes_and_an_operator_may_allow_an_internal_network() -> None:
    resolve = _resolver({"hooks.example": ["114.114.114.114"], "intranet.county": ["10.20.1.5"]})
    assert check_target("https://hooks.example/tongban", resolve=resolve) == ["114.114.114.114"]
    with pytest.raises(WebhookTargetRefused):
        check_target("http://intranet.county/hook", resolve=resolve)
    assert check_target("http://intranet.county/hook", ["10.20.0.0/16"], resolve=resolve) == ["10.20.1.5"]
    assert check_target("http://intranet.county/hook", ["intranet.county"], resolve=resolve)
    # a name with one public and one internal address is refused: the connection may take either
    mixed = _resolver({"split.example": ["114.114.114.114", "192.168.1.1"]})
    with pytest.raises(WebhookTargetRefused, match=r"192\.168\.1\.1"):
        check_target("http://split.example/", resolve=mixed)


@pytest.mark.anyio
async def test_the_api_refuses_a_loopback_subscription_by_default(make_gateway, gw_settings) -> None:
    strict = gw_settings.model_copy(update={"api": gw_settings.api.model_copy(update={"webhook_allow": ()})})
    gw = await make_gateway(settings=strict)
    user = gw.add_client()
    h = await gw.auth(user)
    r = await gw.client.post("/v1/subscriptions", json={"url": "http://127.0.0.1:8080/admin"}, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "WEBHOOK_TARGET_REFUSED"
    assert "loopback" in r.json()["detail"]
    r = await gw.client.get("/v1/subscriptions", headers=h)
    assert r.json() == []  # nothing stored


@pytest.mark.anyio
async def test_a_target_that_resolves_inward_at_delivery_is_not_sent_to(make_gateway) -> None:
    """DNS rebinding: public when subscribed, internal when delivered — no request leaves."""
    import asyncio

    from core.db import utcnow
    from gateway import webhooks
    from gateway.models import ApiSubscription, ApiWebhookDelivery
    from gateway.workers import _token_signer

    gw = await make_gateway()
    user = gw.add_client()
    sent: list[httpx.Request] = []

    def answer(req: httpx.Request) -> httpx.Response:
        sent.append(req)
        return httpx.Response(200)

    with gw.db.session() as s:
        sub = ApiSubscription(
            client_id=user.client_id, url="http://rebind.example/hook", created_at="2026-12-01T00:00:00"
        )
        s.add(sub)
        s.flush()
        s.add(
            ApiWebhookDelivery(
                subscription_id=sub.id,
                event_id="e1",
                license_id="L1",
                body="{}",
                next_attempt_at=utcnow().isoformat(timespec="microseconds"),
            )
        )
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        stats = await asyncio.to_thread(
            webhooks.deliver_due,
            gw.db,
            client,
            _token_signer(gw.services),
            max_attempts=1,
            backoff_s=0,
            allow=(),
            resolve=_resolver({"rebind.example": ["127.0.0.1"]}),
        )
    assert sent == []
    assert stats.failed == 1
    with gw.db.session() as s:
        d = s.query(ApiWebhookDelivery).one()
        assert d.state == "failed" and "loopback" in (d.last_error or "")
