"""Operations routes: liveness ``/healthz``, readiness ``/readyz`` and Prometheus ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from core.health import check_database
from gateway.deps import Svc

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="readiness: database migrated, ledger writer running, license registry present",
    responses={503: {"description": "not ready; the failing checks are listed"}},
)
async def readyz(svc: Svc, request: Request) -> JSONResponse:
    expected = str(request.app.state.schema_revision)
    db_check = await run_in_threadpool(check_database, svc.db, expected)
    thread = svc.writer._thread
    checks = [
        db_check.as_dict(),
        {"name": "ledger_writer", "ok": bool(thread and thread.is_alive()), "detail": "group-commit thread"},
        {
            "name": "licenses",
            "ok": svc.licenses is not None,
            "detail": "license registry" if svc.licenses is not None else "licenses package not available",
        },
    ]
    ok = all(c["ok"] for c in checks)
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(svc: Svc) -> Response:
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)
