"""The FastAPI application: middleware, error mapping, routers, lifespan.

:func:`create_app` builds the app for one settings object; the parts it runs with
(:class:`~gateway.services.Services`) are built on first use or injected by tests. The middleware
(pure ASGI, one pass) gives every request an id, enforces body size limits, and writes one
structured access-log line with identifiers masked, plus request metrics. Every error leaves as
``application/problem+json`` with a stable ``code`` (:mod:`gateway.errors`), mapped here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import CoreError
from core.logging import log_event
from core.masking import redact_text
from core.settings import Settings
from gateway.errors import PROBLEM_MEDIA_TYPE, GatewayError, from_core, problem
from gateway.services import Services, build_services

access_log = logging.getLogger("tongban.access")
log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATHS = ("/v1/verify", "/verify/upload")
_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def problem_response(
    code: str,
    detail: str,
    *,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem(code, detail, instance=f"urn:request:{request_id}" if request_id else None, **extra)
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def request_id_of(request: Request) -> str:
    rid: str = request.scope.get("state", {}).get("request_id") or "-"
    return rid


class GatewayMiddleware:
    """Request id, body size limits, access log and metrics in one ASGI pass."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings: Settings = self.api.state.settings
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id", "")
        rid = rid if _RID.match(rid) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        path: str = scope.get("path", "")
        limit = settings.api.max_upload_bytes if path in UPLOAD_PATHS else settings.api.max_body_bytes
        status_holder = {"status": 500}
        state = {"started": False, "cut": False}

        async def send_wrapper(message: Message) -> None:
            if state["cut"]:
                return  # the 413 was already sent; the app's own answer is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                resp = problem_response(
                    "PAYLOAD_TOO_LARGE", f"request body larger than {limit} bytes", request_id=rid
                )
                await resp(scope, receive, send_wrapper)
                return
            seen = 0

            async def receive_limited() -> Message:
                nonlocal seen
                if state["cut"]:
                    return {"type": "http.disconnect"}
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        # answer 413 now and tell the app the client went away
                        if not state["started"]:
                            resp = problem_response(
                                "PAYLOAD_TOO_LARGE", f"request body larger than {limit} bytes", request_id=rid
                            )
                            await resp(scope, receive, send_wrapper)
                        state["cut"] = True
                        return {"type": "http.disconnect"}
                return message

            await self.app(scope, receive_limited, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            status = status_holder["status"]
            services: Services | None = getattr(self.api.state, "services_obj", None)
            if services is not None:
                services.metrics.requests.labels(route_path, scope.get("method", ""), str(status)).inc()
                services.metrics.latency.labels(route_path).observe(elapsed)
            if route_path not in ("/metrics", "/healthz", "/readyz"):
                log_event(
                    access_log,
                    "request",
                    request_id=rid,
                    method=scope.get("method", ""),
                    path=redact_text(path),
                    route=route_path,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                    client_id=scope.get("state", {}).get("client_id", "-"),
                )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        headers: dict[str, str] = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="tongban", error="invalid_token"'
        if "retry_after" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retry_after"])
        services: Services | None = getattr(request.app.state, "services_obj", None)
        if services is not None and exc.status in (401, 403, 429):
            services.metrics.denied.labels(exc.code).inc()
        extra = {k: v for k, v in exc.extra.items() if k != "retry_after"}
        return problem_response(
            exc.code, exc.detail, request_id=request_id_of(request), headers=headers, **extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # never echo inputs back: they may hold a holder's code
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return problem_response(
            "VALIDATION_FAILED",
            "the request does not match the API schema",
            request_id=request_id_of(request),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            413: "PAYLOAD_TOO_LARGE",
            415: "UNSUPPORTED_MEDIA_TYPE",
        }.get(exc.status_code, "VALIDATION_FAILED" if 400 <= exc.status_code < 500 else "INTERNAL_ERROR")
        return problem_response(code, str(exc.detail), request_id=request_id_of(request))

    @app.exception_handler(CoreError)
    async def _core(request: Request, exc: CoreError) -> JSONResponse:
        mapped = from_core(exc)
        log.warning("core error on %s: %s [%s]", request.url.path, redact_text(str(exc)), exc.code)
        return problem_response(mapped.code, mapped.detail, request_id=request_id_of(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s: %s", request.url.path, redact_text(repr(exc)), exc_info=exc)
        return problem_response("INTERNAL_ERROR", "internal error", request_id=request_id_of(request))


class _ServicesHolder:
    def __init__(self, app: FastAPI, factory: Callable[[], Services]) -> None:
        self.app, self.factory = app, factory
        self.lock = threading.Lock()

    def get(self) -> Services:
        obj: Services | None = getattr(self.app.state, "services_obj", None)
        if obj is None:
            with self.lock:
                obj = getattr(self.app.state, "services_obj", None)
                if obj is None:
                    obj = self.factory()
                    self.app.state.services_obj = obj
        return obj


def create_app(
    settings: Settings,
    *,
    schema_revision: str,
    services: Services | None = None,
    background: bool = True,
) -> FastAPI:
    """The sharing API for ``settings`` (``services`` injected by tests, else built on first use).

    ``schema_revision`` is the database revision this code expects (``/readyz`` compares it with
    the database's); the composition root (:mod:`tongban.api_app`) reads it from the migrations.
    """
    from gateway import api, dq, joint, ops, page, workers

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = app.state.services.get()
        # what start-up loaded (pyhanko, SQLAlchemy, the key store) lives as long as the process:
        # move it out of the collector's sight so a full collection does not pause requests
        gc.collect()
        gc.freeze()
        tasks: list[asyncio.Task[None]] = []
        if background:
            tasks = workers.start_background(svc)
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await svc.limiter.close()
            if app.state.owns_services:
                svc.close()

    app = FastAPI(
        title="tongban 电子证照共享接口 (sharing API)",
        version="1.0.0",
        description=(
            "Departments search licenses by holder, read metadata, fetch annotated copies (加注件) "
            "and verify files, each with a granted purpose and a use cause (用证事由); every call is "
            "recorded in the use ledger before it is answered. Errors are application/problem+json "
            "with a stable `code`."
        ),
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.schema_revision = schema_revision
    app.state.owns_services = services is None
    if services is not None:
        app.state.services_obj = services
    app.state.services = _ServicesHolder(app, lambda: build_services(settings))
    _install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(api.router)
    app.include_router(joint.router)
    app.include_router(page.router)
    app.include_router(dq.router)
    app.add_middleware(GatewayMiddleware, api=app)
    return app
