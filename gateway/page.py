"""The public verify page: ``/verify/{license_id}?code=...`` (the QR code's target) and an upload form.

Server-rendered Chinese HTML (Jinja2, autoescaped): valid or not valid and why, license name,
issuer, issue date and the holder's name masked. Details are shown only with the right
verification code from the QR, and an unknown id and a wrong code get the same answer (404), so ids
cannot be enumerated at all. ``POST /verify/upload`` runs the full file check and shows the
registry's record only for a file whose seal holds (a forged file naming a real id learns nothing).
Page hits are counted per day and outcome (:class:`~gateway.models.ApiPageHits`) and
in Prometheus — counted, not chained: the public is not a ledgered client.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import update
from starlette.concurrency import run_in_threadpool

from core.db import utcnow
from core.masking import mask_name
from gateway.deps import Svc
from gateway.models import ApiPageHits
from gateway.ports import LicenseView
from gateway.services import Services

_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
router = APIRouter(
    tags=["public verify page"],
    responses={
        404: {"description": "未找到该证照或核验码不符 (unknown license or wrong code)", **_HTML},
        422: {"description": "not a PDF (upload)", **_HTML},
        503: {"description": "verification unavailable", **_HTML},
    },
)
_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)

NOT_FOUND_VERDICT = "未找到该证照或核验码不符"
BAD_CODE_TEXT = "没有与该标识和核验码相符的证照，请扫描证照上的二维码"
VALID = "01"
# a verdict that says the file is not what it claims: nothing of the registry is shown for it
_SEAL_FAILURES = frozenset(
    {
        "tampered",
        "untrusted_issuer",
        "not_a_license",
        "disallowed_change",
        "registry_mismatch",
        "timestamp_invalid",
    }
)
_LICENSE_ID = re.compile(r"^[0-9A-Za-z.-]{1,120}$")
HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _count(svc: Services, outcome: str) -> None:
    day = utcnow().date().isoformat()
    svc.metrics.page_hits.labels(outcome).inc()
    with svc.db.session() as s:
        done = s.execute(
            update(ApiPageHits)
            .where(ApiPageHits.day == day, ApiPageHits.outcome == outcome)
            .values(count=ApiPageHits.count + 1)
        ).rowcount  # type: ignore[attr-defined]
        if not done:
            s.add(ApiPageHits(day=day, outcome=outcome, count=1))


def _render(svc: Services, status_code: int, **ctx: Any) -> HTMLResponse:
    html = _env.get_template("verify.html").render(platform=svc.settings.platform_name, **ctx)
    return HTMLResponse(html, status_code=status_code, headers=HTML_HEADERS)


def _license_ctx(view: LicenseView) -> dict[str, Any]:
    return {
        "license_id": view.license_id,
        "name": view.name,
        "issuer_name": view.issuer_name,
        "issue_date": view.issue_date,
        "holders": "、".join(mask_name(h.name) for h in view.holders) or "—",
        "status_name": view.status_name,
        "valid_until": view.valid_until,
    }


def _reasons(
    codes: list[str], *, valid_until: str | None = None, valid_from: str | None = None
) -> list[dict[str, str]]:
    from licenses import reason_text

    return [
        {
            "code": c,
            "text": BAD_CODE_TEXT
            if c == "bad_code"
            else reason_text(c, valid_until=valid_until, valid_from=valid_from),
        }
        for c in codes
    ]


def _registry_verdict(view: LicenseView) -> list[str]:
    """Why the registry view is not valid today: its status, and its period (有效期, Asia/Shanghai)."""
    from licenses import validity_problem

    codes = [] if view.status == VALID else ["status_not_valid"]
    problem = validity_problem(view.valid_from, view.valid_until, utcnow())
    if problem is not None:
        codes.append(problem[0])
    return codes


@router.get("/verify/{license_id}", response_class=HTMLResponse, summary="核验页 (QR target)")
async def verify_page(
    license_id: str,
    svc: Svc,
    code: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    port = svc.licenses
    if port is None:
        return _render(svc, 503, outcome="unavailable", css="unknown", verdict="核验服务暂不可用", reasons=[])
    view = await run_in_threadpool(port.get, license_id) if _LICENSE_ID.match(license_id) else None
    known = view is not None
    if view is None or not (
        code.isprintable() and code and await run_in_threadpool(port.check_verify_code, license_id, code)
    ):
        # one answer for an unknown id and a wrong code: the page must not tell which ids exist
        await run_in_threadpool(_count, svc, "bad_code" if known else "unknown")
        return _render(
            svc,
            404,
            outcome="unknown",
            css="unknown",
            verdict=NOT_FOUND_VERDICT,
            reasons=_reasons(["bad_code"]),
        )
    codes = _registry_verdict(view)
    if not codes:
        await run_in_threadpool(_count, svc, "valid")
        return _render(
            svc, 200, outcome="valid", css="valid", verdict="有效", reasons=[], license=_license_ctx(view)
        )
    await run_in_threadpool(_count, svc, "not_valid")
    why = view.status_name if view.status != VALID else "已超过有效期"
    return _render(
        svc,
        200,
        outcome="not_valid",
        css="invalid",
        verdict=f"无效（{why}）",
        reasons=_reasons(codes, valid_until=view.valid_until, valid_from=view.valid_from),
        license=_license_ctx(view),
    )


@router.get("/verify", response_class=HTMLResponse, summary="核验页 (the QR code's form: ?id=...&code=...)")
async def verify_page_qr(
    svc: Svc,
    id: Annotated[str, Query(max_length=120)] = "",
    code: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    return await verify_page(id, svc, code)


@router.post("/verify/upload", response_class=HTMLResponse, summary="核验上传的证照文件")
async def verify_upload(
    file: Annotated[UploadFile, File()],
    svc: Svc,
) -> HTMLResponse:
    port = svc.licenses
    if port is None:
        return _render(svc, 503, outcome="unavailable", css="unknown", verdict="核验服务暂不可用", reasons=[])
    data = await file.read(svc.settings.api.max_upload_bytes + 1)
    if not data.startswith(b"%PDF-"):
        await run_in_threadpool(_count, svc, "upload_not_pdf")
        return _render(
            svc, 422, outcome="not_valid", css="invalid", verdict="无效", reasons=_reasons(["not_a_license"])
        )
    report = await run_in_threadpool(port.verify, data, as_dept=None)
    lid = report.get("license_id")
    sealed = not set(report.get("reasons", [])) & _SEAL_FAILURES
    # the registry's record is shown for a file whose seal holds (valid, or genuine but revoked,
    # expired …); a forged or tampered file that names a real license's id learns nothing of it
    view = await run_in_threadpool(port.get, lid) if lid and sealed else None
    valid = bool(report.get("valid"))
    await run_in_threadpool(_count, svc, "upload_valid" if valid else "upload_not_valid")
    copy = report.get("copy")
    return _render(
        svc,
        200,
        outcome="valid" if valid else "not_valid",
        css="valid" if valid else "invalid",
        verdict="有效" if valid else "无效",
        reasons=_reasons(
            list(report.get("reasons", [])),
            valid_until=(report.get("validity") or {}).get("until"),
            valid_from=(report.get("validity") or {}).get("from"),
        ),
        license=_license_ctx(view) if view else None,
        copy=copy,
    )
