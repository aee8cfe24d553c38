"""HTTP routes of the PKI: CRLs (with caching headers), CA certificates (AIA) and the RFC 3161 TSA.

:func:`pki_router` returns a FastAPI router the sharing API mounts; :func:`create_pki_app` wraps it
in an app of its own for ``tongban pki serve``. The paths are the ones written into the
certificates (``licenses.pki.CRL_PATH`` / ``CERT_PATH`` / ``TSA_PATH``):

- ``GET|HEAD /pki/crl/{issuing|root}.crl`` → ``application/pkix-crl`` (DER). ``ETag`` (SHA-256 of
  the CRL), ``Last-Modified`` (thisUpdate), ``Cache-Control: public, max-age=<seconds until
  nextUpdate>``, ``Expires`` (nextUpdate); ``If-None-Match`` / ``If-Modified-Since`` → 304. A CRL
  past half its validity is re-issued on the way out (when the CA key is here).
- ``GET /pki/certs/{root|issuing|tsa}.crt`` → ``application/pkix-cert`` (DER).
- ``POST /pki/tsa`` with ``application/timestamp-query`` → ``application/timestamp-reply``;
  other content types 415, bodies over 16 KiB 413. Refusals are RFC 3161 rejections (HTTP 200).

Nagle: asyncio (and uvloop) set ``TCP_NODELAY`` on every accepted connection, so keep-alive
clients are not held back by delayed ACKs; ``tests/pki`` checks the option on the server socket.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from core.settings import Settings
from core.timestamp import QUERY_CONTENT_TYPE, REPLY_CONTENT_TYPE
from licenses.errors import LicenseError
from licenses.pki import Pki, PkiNotInitialised

MAX_TSA_REQUEST = 16 * 1024
CRL_ISSUERS = ("issuing", "root")
CERT_NAMES = ("root", "issuing", "tsa")


def _http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*"
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            return last_modified.replace(microsecond=0) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def pki_router(get_pki: Callable[[], Pki]) -> APIRouter:
    """The PKI routes over the :class:`~licenses.pki.Pki` that ``get_pki`` returns."""
    router = APIRouter(prefix="/pki", tags=["pki"])

    @router.api_route("/crl/{issuer}.crl", methods=["GET", "HEAD"], response_model=None)
    def crl(issuer: str, request: Request) -> Response:
        if issuer not in CRL_ISSUERS:
            return PlainTextResponse(f"no CRL {issuer!r}: use {' or '.join(CRL_ISSUERS)}", status_code=404)
        pki = get_pki()
        try:
            info = pki.crl(issuer)
        except PkiNotInitialised as exc:
            return PlainTextResponse(str(exc), status_code=404)
        max_age = max(0, int((info.next_update - pki.now()).total_seconds()))
        etag = f'"{info.sha256}"'
        headers = {
            "ETag": etag,
            "Last-Modified": _http_date(info.this_update),
            "Expires": _http_date(info.next_update),
            "Cache-Control": f"public, max-age={max_age}",
        }
        if _not_modified(request, etag, info.this_update):
            return Response(status_code=304, headers=headers)
        return Response(content=info.der, media_type="application/pkix-crl", headers=headers)

    @router.get("/certs/{name}.crt", response_model=None)
    def certificate(name: str, request: Request) -> Response:
        if name not in CERT_NAMES:
            return PlainTextResponse(f"no certificate {name!r}: use {', '.join(CERT_NAMES)}", status_code=404)
        record = get_pki().current(name)
        if record is None:
            return PlainTextResponse(f"no {name} certificate yet: run `tongban pki init`", status_code=404)
        der = record.certificate.public_bytes(Encoding.DER)
        etag = f'"{hashlib.sha256(der).hexdigest()}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
        if _not_modified(request, etag, record.issued_at):
            return Response(status_code=304, headers=headers)
        return Response(content=der, media_type="application/pkix-cert", headers=headers)

    @router.post("/tsa", response_model=None)
    async def timestamp(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != QUERY_CONTENT_TYPE:
            return PlainTextResponse(f"send {QUERY_CONTENT_TYPE}", status_code=415)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_TSA_REQUEST:
            return PlainTextResponse("timestamp request too large", status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_TSA_REQUEST:
                return PlainTextResponse("timestamp request too large", status_code=413)
        try:
            tsa = await run_in_threadpool(get_pki().tsa)
        except LicenseError as exc:
            return PlainTextResponse(f"the TSA is not available: {exc} [{exc.code}]", status_code=503)
        reply = await run_in_threadpool(tsa.respond, body)
        return Response(content=reply, media_type=REPLY_CONTENT_TYPE)

    return router


def create_pki_app(settings: Settings, pki: Pki | None = None) -> FastAPI:
    """A small app serving only the PKI routes (``tongban pki serve``)."""
    owner = pki or Pki(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if pki is None:
            owner.close()

    app = FastAPI(
        title="tongban PKI (CRL, CA certificates, TSA)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.include_router(pki_router(lambda: owner))
    return app
