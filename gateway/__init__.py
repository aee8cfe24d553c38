"""The HTTP face of tongban: the sharing API (FastAPI), the public verify page, CRL and TSA routes.

The names in ``__all__`` are the stable surface (pinned by ``tests/gateway/test_public_api.py``).
The error tree (:mod:`gateway.errors`: ``GatewayError`` and its problem+json mapping) is imported
here; every other name loads its module on first use, so ``import gateway`` pulls in neither
FastAPI nor SQLAlchemy. Modules::

    gateway.errors       GatewayError tree, CODES (code -> status, title), problem(), from_core()
    gateway.app          create_app(settings, services=...) -> FastAPI (the sharing API)
    gateway.pki_routes   create_pki_app(settings) (CRL, CA certificates, TSA only)
    gateway.services     Services, build_services(settings, db=...)
    gateway.clients      add_client / list_clients / disable_client / load_principal; Principal
    gateway.ports        LicensePort (what the API needs of licenses), LicenseView, CopyRequest
    gateway.anchors      anchor_heads / verify_anchors (ledger heads timestamped at the TSA)
    gateway.workers      timestamper, run_webhooks_once, start_background
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.lazy import lazy_getattr
from gateway.errors import (
    CODES,
    PROBLEM_MEDIA_TYPE,
    ClientError,
    Conflict,
    Forbidden,
    GatewayError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMedia,
    from_core,
    problem,
)

if TYPE_CHECKING:
    from gateway.anchors import anchor_heads, verify_anchors
    from gateway.app import create_app
    from gateway.clients import NewClient, Principal, add_client, disable_client, list_clients, load_principal
    from gateway.pki_routes import create_pki_app
    from gateway.ports import CopyRequest, LicensePort, LicenseView
    from gateway.services import Services, build_services

# name -> the module that defines it (PEP 562: loaded on first use)
_LAZY = {
    **dict.fromkeys(("anchor_heads", "verify_anchors"), "gateway.anchors"),
    "create_app": "gateway.app",
    **dict.fromkeys(
        ("NewClient", "Principal", "add_client", "disable_client", "list_clients", "load_principal"),
        "gateway.clients",
    ),
    "create_pki_app": "gateway.pki_routes",
    **dict.fromkeys(("CopyRequest", "LicensePort", "LicenseView"), "gateway.ports"),
    **dict.fromkeys(("Services", "build_services"), "gateway.services"),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "CODES",
    "PROBLEM_MEDIA_TYPE",
    "ClientError",
    "Conflict",
    "CopyRequest",
    "Forbidden",
    "GatewayError",
    "LicensePort",
    "LicenseView",
    "NewClient",
    "NotFound",
    "PayloadTooLarge",
    "Principal",
    "RateLimited",
    "Services",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "UnsupportedMedia",
    "add_client",
    "anchor_heads",
    "build_services",
    "create_app",
    "create_pki_app",
    "disable_client",
    "from_core",
    "list_clients",
    "load_principal",
    "problem",
    "verify_anchors",
]
