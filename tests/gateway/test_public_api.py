"""The public surface of ``gateway`` is pinned; ``import gateway`` loads neither FastAPI nor
SQLAlchemy (the app and the client registry load on first use)."""

from __future__ import annotations

import gateway
from tests.exports import check_surface, heavy_imports

ERRORS = (
    "ClientError Conflict Forbidden GatewayError NotFound PayloadTooLarge RateLimited Unauthorized "
    "Unavailable Unprocessable UnsupportedMedia"
)
API = (
    "CODES PROBLEM_MEDIA_TYPE from_core problem CopyRequest LicensePort LicenseView NewClient Principal "
    "Services add_client anchor_heads build_services create_app create_pki_app disable_client "
    "list_clients load_principal verify_anchors"
)


def test_exported_names() -> None:
    check_surface("gateway", f"{ERRORS} {API}")
    for name in ERRORS.split():
        exc = getattr(gateway, name)
        assert issubclass(exc, gateway.GatewayError)
        assert exc.code in gateway.CODES, name


def test_client_error_is_the_one_the_client_registry_raises() -> None:
    from gateway import clients

    assert clients.ClientError is gateway.ClientError
    assert gateway.ClientError("bad code").status == 422


def test_importing_gateway_is_light() -> None:
    banned = ("fastapi", "starlette", "sqlalchemy", "pyhanko", "httpx", "redis")
    assert heavy_imports("gateway", banned) == []
