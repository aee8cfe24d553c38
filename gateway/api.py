"""The sharing API routes (``/v1``): token, JWKS, search, metadata, annotated copies, verification,
status changes, subscriptions and the holder portal's use listing.

Rules every route follows: deny by default (a role, a type and a purpose must be granted); a license
of a type the client may not see is answered exactly like an unknown one; every allowed call is
written to the client's use-ledger stream and answered only after the entry is committed (the
``use`` object in the body, ``X-Use-Ledger`` on binary responses); holder codes travel in bodies only.

Why one module of this length: every ``/v1`` route sits under the same deny-by-default and use-
ledger rules, read together; each route is a few lines over licenses, gateway.auth and
gateway.clients.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from core.canonical import canonical_bytes
from core.db import utcnow
from core.ledger_writer import Receipt
from core.masking import mask_id, redact_text
from gateway import clients, schemas
from gateway.clients import ROLE_HOLDER_PORTAL, ROLE_SHARE, ROLE_STATUS, Principal
from gateway.deps import Svc, Who
from gateway.errors import CODES, Forbidden, NotFound, RateLimited, Unauthorized, Unavailable, Unprocessable
from gateway.models import ApiSubscription
from gateway.ports import CopyRequest, LicensePort, LicenseView
from gateway.services import Services
from gateway.uses import Use, uses_of_licenses
from gateway.viewcache import CachedLicensePort
from gateway.webhook_targets import check_target

SHANGHAI = ZoneInfo("Asia/Shanghai")
PDF = "application/pdf"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        codes = sorted(c for c, (s, _t) in CODES.items() if s == status)
        out[status] = {
            "description": "problem details; code one of " + ", ".join(codes),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


AUTHED = problem_responses(401, 403, 413, 422, 429, 503)
router = APIRouter(prefix="/v1", responses=AUTHED)
basic = HTTPBasic(auto_error=False, description="client_id / client_secret (or send them in the form)")


def _port(svc: Services) -> LicensePort:
    if svc.licenses is None:
        raise Unavailable("the license registry is not available in this build", code="UPSTREAM_UNAVAILABLE")
    return svc.licenses


def _license_out(view: LicenseView) -> schemas.LicenseOut:
    return schemas.LicenseOut(
        license_id=view.license_id,
        type_code=view.type_code,
        name=view.name,
        number=view.number,
        issuer_name=view.issuer_name,
        issuer_code=view.issuer_code,
        issue_date=view.issue_date,
        status=view.status,
        status_name=view.status_name,
        valid_from=view.valid_from,
        valid_until=view.valid_until,
        holders=[
            schemas.Holder(name=h.name, code_type=h.code_type, code_masked=mask_id(h.code))
            for h in view.holders
        ],
        fields=dict(view.fields),
    )


def _use_ref(r: Receipt) -> schemas.UseRef:
    return schemas.UseRef(stream=r.stream, seq=r.seq, entry_hash=r.entry_hash)


def _rid(request: Request) -> str:
    rid: str = request.scope.get("state", {}).get("request_id", "-")
    return rid


def _json_with_use(model: Any, body_without_use: dict[str, Any], receipt: Receipt) -> JSONResponse:
    doc = dict(body_without_use)
    doc["use"] = _use_ref(receipt).model_dump()
    return JSONResponse(model.model_validate(doc).model_dump(mode="json", by_alias=True))


# -- tokens -----------------------------------------------------------------------------------------
@router.post(
    "/oauth/token",
    response_model=schemas.TokenResponse,
    tags=["auth"],
    summary="OAuth2 client-credentials token",
    responses=problem_responses(401, 422, 429),
)
async def token(
    request: Request,
    grant_type: Annotated[str, Form(max_length=40)],
    basic_creds: Annotated[HTTPBasicCredentials | None, Depends(basic)],
    svc: Svc,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
) -> schemas.TokenResponse:
    if grant_type != "client_credentials":
        raise Unprocessable(
            "grant_type must be client_credentials", extra={"error": "unsupported_grant_type"}
        )
    cid, secret = (basic_creds.username, basic_creds.password) if basic_creds else (client_id, client_secret)
    if not cid or not secret:
        raise Unauthorized(
            "send client_id and client_secret", code="CLIENT_INVALID", extra={"error": "invalid_client"}
        )
    decision = await svc.limiter.take("token:" + cid[:64])
    if not decision.allowed:
        raise RateLimited("too many token requests for this client", retry_after=decision.retry_after_header)
    try:
        who = await run_in_threadpool(clients.authenticate, svc.db, cid, secret)
    except Unauthorized as exc:
        exc.extra["error"] = "invalid_client"
        raise
    request.scope.setdefault("state", {})["client_id"] = who.client_id
    access, ttl = svc.tokens.issue(who.client_id, scope=" ".join(sorted(who.roles)))
    return schemas.TokenResponse(access_token=access, expires_in=ttl)


@router.get("/jwks.json", tags=["auth"], summary="public keys of access tokens and webhook signatures")
async def jwks(svc: Svc) -> dict[str, Any]:
    return svc.tokens.jwks()


# -- search and metadata ----------------------------------------------------------------------------
@router.post(
    "/licenses:search",
    response_model=schemas.SearchResponse,
    tags=["licenses"],
    summary="search licenses by holder (holder in the body, never in the URL)",
)
async def search(
    body: schemas.SearchRequest,
    request: Request,
    who: Who,
    svc: Svc,
) -> JSONResponse:
    who.require_purpose(body.purpose)
    if body.type_code is not None:
        who.require_type(body.type_code)
    port = _port(svc)
    found = await run_in_threadpool(
        port.find_by_holder, body.holder_code_type, body.holder_code, body.type_code
    )
    visible = [v for v in found if who.may_see(v.type_code)]  # never reveal other types
    out = [_license_out(v).model_dump(mode="json") for v in visible]
    body_doc = {"count": len(out), "licenses": out}
    receipt = await svc.uses.record(
        who,
        Use(
            op="search",
            license_ids=[v.license_id for v in visible],
            result="ok" if visible else "none",
            payload_sha256=svc.uses.payload_hash(canonical_bytes(body_doc)),
            request_id=_rid(request),
            purpose=body.purpose,
            cause=body.use_cause,
            holder_key=svc.uses.holder_key(body.holder_code_type, body.holder_code),
            extra={"type_code": body.type_code} if body.type_code else None,
        ),
    )
    return _json_with_use(schemas.SearchResponse, body_doc, receipt)


async def _visible_license(svc: Services, who: Principal, license_id: str) -> LicenseView | None:
    port = _port(svc)
    hit, view = port.cached(license_id) if isinstance(port, CachedLicensePort) else (False, None)
    if not hit:  # a database read: off the event loop
        view = await run_in_threadpool(port.get, license_id)
    if view is None or not who.may_see(view.type_code):
        return None
    return view


@router.get(
    "/licenses/{license_id}",
    response_model=schemas.LicenseResponse,
    tags=["licenses"],
    summary="license metadata by identifier (ZZBS)",
    responses=problem_responses(404),
)
async def metadata(
    license_id: schemas.LicenseIdPath,
    request: Request,
    purpose: Annotated[schemas.Code, Query(description="a purpose code from the client's grant")],
    use_cause: Annotated[schemas.UseCause, Query()],
    who: Who,
    svc: Svc,
) -> JSONResponse:
    who.require_purpose(purpose)
    if len(license_id) > 120:
        raise NotFound("no such license", code="LICENSE_NOT_FOUND")
    view = await _visible_license(svc, who, license_id)
    body_doc: dict[str, Any] = {"license": _license_out(view).model_dump(mode="json")} if view else {}
    receipt = await svc.uses.record(
        who,
        Use(
            op="metadata",
            license_ids=[license_id] if view else [],
            result="ok" if view else "not_found",
            payload_sha256=svc.uses.payload_hash(canonical_bytes(body_doc)),
            request_id=_rid(request),
            purpose=purpose,
            cause=use_cause,
            extra=None if view else {"asked": redact_text(license_id[:120])},
        ),
    )
    if view is None:
        raise NotFound("no such license (or not a type granted to this client)", code="LICENSE_NOT_FOUND")
    return _json_with_use(schemas.LicenseResponse, body_doc, receipt)


# -- annotated copies -------------------------------------------------------------------------------
def purpose_text(code: str) -> str:
    """The matter printed in the annotation (the purpose code itself until a catalog names it)."""
    return code


@router.post(
    "/licenses/{license_id}/copies",
    tags=["licenses"],
    summary="an annotated copy (加注件) for this department, purpose and date",
    responses={
        200: {"content": {PDF: {"schema": {"type": "string", "format": "binary"}}}},
        **problem_responses(404),
    },
    response_class=Response,
)
async def make_copy(
    license_id: schemas.LicenseIdPath,
    body: schemas.CopyRequestBody,
    request: Request,
    who: Who,
    svc: Svc,
) -> Response:
    who.require_purpose(body.purpose)
    today = utcnow().astimezone(SHANGHAI).date()
    if not today <= body.until <= today + timedelta(days=svc.settings.api.copy_max_days):
        raise Unprocessable(
            f"until must be between today ({today}) and {svc.settings.api.copy_max_days} days ahead",
            code="VALIDATION_FAILED",
        )
    view = await _visible_license(svc, who, license_id) if len(license_id) <= 120 else None
    if view is None:
        raise NotFound("no such license (or not a type granted to this client)", code="LICENSE_NOT_FOUND")
    req = CopyRequest(
        license_id=view.license_id,
        purpose=body.purpose,
        purpose_text=purpose_text(body.purpose),
        cause=body.use_cause,
        recipient=who.dept_code,
        until=body.until,
    )
    pdf = await run_in_threadpool(_port(svc).make_copy, req)
    receipt = await svc.uses.record(
        who,
        Use(
            op="copy",
            license_ids=[view.license_id],
            result="ok",
            payload_sha256=svc.uses.payload_hash(pdf),
            request_id=_rid(request),
            purpose=body.purpose,
            cause=body.use_cause,
            extra={"recipient": who.dept_code, "until": body.until.isoformat()},
        ),
    )
    return Response(
        pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="copy-{receipt.seq}.pdf"',
            "X-Use-Ledger": f"{receipt.stream};seq={receipt.seq};hash={receipt.entry_hash}",
        },
    )


# -- verification -----------------------------------------------------------------------------------
@router.post(
    "/verify",
    response_model=schemas.VerifyResponse,
    tags=["verification"],
    summary="verify a license or an annotated copy (PDF upload, size-limited)",
)
async def verify(
    request: Request,
    file: Annotated[UploadFile, File(description="the PDF to check")],
    purpose: Annotated[schemas.Code, Form()],
    use_cause: Annotated[schemas.UseCause, Form()],
    who: Who,
    svc: Svc,
    at: Annotated[
        str | None,
        Form(
            max_length=40,
            description="judge at another moment: YYYY-MM-DD (the end of that day, Asia/Shanghai) or "
            "ISO 8601; default now",
        ),
    ] = None,
) -> JSONResponse:
    from licenses import LicenseError, judgement_moment

    who.require_purpose(purpose)
    moment = None
    if at:
        try:
            moment = judgement_moment(at)
        except LicenseError as exc:
            raise Unprocessable(
                "at: 核验时点应为日期 YYYY-MM-DD 或 ISO 8601 时间", code="VALIDATION_FAILED"
            ) from exc
    data = await file.read(svc.settings.api.max_upload_bytes + 1)
    if not data.startswith(b"%PDF-"):
        raise Unprocessable("the uploaded file is not a PDF", code="NOT_A_PDF")
    report = await run_in_threadpool(_port(svc).verify, data, as_dept=who.dept_code, at=moment)
    lid = report.get("license_id")
    view = await run_in_threadpool(_port(svc).get, lid) if lid else None
    visible = view is not None and who.may_see(view.type_code)
    body_doc = {
        "valid": bool(report.get("valid")),
        "license_id": lid,
        "status": report.get("status"),
        "kind": report.get("kind", "license"),
        "copy": report.get("copy"),
        "reasons": list(report.get("reasons", [])),
        "messages": [str(m) for m in report.get("messages", [])],
        "validity": report.get("validity"),
        "notes": [str(n) for n in report.get("notes", [])][:20],
    }
    receipt = await svc.uses.record(
        who,
        Use(
            op="verify",
            license_ids=[lid] if (lid and visible) else [],
            result="valid" if body_doc["valid"] else "not_valid:" + ",".join(body_doc["reasons"]),
            payload_sha256=svc.uses.payload_hash(data),
            request_id=_rid(request),
            purpose=purpose,
            cause=use_cause,
        ),
    )
    return _json_with_use(schemas.VerifyResponse, body_doc, receipt)


# -- status changes (issuing departments) -----------------------------------------------------------
@router.post(
    "/licenses/{license_id}/status",
    response_model=schemas.LicenseResponse,
    tags=["issuers"],
    summary="change the status of a license this department issued",
    responses=problem_responses(404, 409),
)
async def change_status(
    license_id: schemas.LicenseIdPath,
    body: schemas.StatusChangeRequest,
    request: Request,
    who: Who,
    svc: Svc,
) -> JSONResponse:
    who.require_role(ROLE_STATUS)
    view = await _visible_license(svc, who, license_id) if len(license_id) <= 120 else None
    if view is None:
        raise NotFound("no such license (or not a type granted to this client)", code="LICENSE_NOT_FOUND")
    if view.issuer_code != who.dept_code:
        raise Forbidden("only the issuing department may change this license's status", code="NOT_ISSUER")
    changed = await run_in_threadpool(
        _port(svc).change_status,
        license_id,
        body.action,
        body.reason,
        actor=f"{who.dept_code}/{who.client_id}",
    )
    body_doc = {"license": _license_out(changed).model_dump(mode="json")}
    receipt = await svc.uses.record(
        who,
        Use(
            op="status",
            license_ids=[license_id],
            result=f"{view.status}->{changed.status}",
            payload_sha256=svc.uses.payload_hash(canonical_bytes(body_doc)),
            request_id=_rid(request),
            cause=body.reason,
            extra={"action": body.action},
        ),
    )
    return _json_with_use(schemas.LicenseResponse, body_doc, receipt)


# -- subscriptions ----------------------------------------------------------------------------------
@router.post(
    "/subscriptions",
    response_model=schemas.SubscriptionOut,
    status_code=201,
    tags=["subscriptions"],
    summary="be notified (signed webhook) when a license this department used changes status",
)
async def subscribe(body: schemas.SubscriptionRequest, who: Who, svc: Svc) -> schemas.SubscriptionOut:
    who.require_role(ROLE_SHARE)
    await run_in_threadpool(check_target, body.url, svc.settings.api.webhook_allow)

    def work() -> ApiSubscription:
        with svc.db.session() as s:
            row = s.scalars(
                select(ApiSubscription).where(
                    ApiSubscription.client_id == who.client_id, ApiSubscription.url == body.url
                )
            ).first()
            if row is None:
                row = ApiSubscription(
                    client_id=who.client_id,
                    url=body.url,
                    created_at=utcnow().isoformat(timespec="seconds"),
                    active=True,
                )
                s.add(row)
            row.active = True
            s.flush()
            return row

    row = await run_in_threadpool(work)
    return schemas.SubscriptionOut(id=row.id, url=row.url, created_at=row.created_at, active=row.active)


@router.get("/subscriptions", response_model=list[schemas.SubscriptionOut], tags=["subscriptions"])
async def list_subscriptions(who: Who, svc: Svc) -> list[schemas.SubscriptionOut]:
    def work() -> list[ApiSubscription]:
        with svc.db.session() as s:
            return list(s.scalars(select(ApiSubscription).where(ApiSubscription.client_id == who.client_id)))

    rows = await run_in_threadpool(work)
    return [
        schemas.SubscriptionOut(id=r.id, url=r.url, created_at=r.created_at, active=r.active) for r in rows
    ]


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    tags=["subscriptions"],
    responses=problem_responses(404),
)
async def unsubscribe(
    subscription_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    who: Who,
    svc: Svc,
) -> Response:
    def work() -> bool:
        with svc.db.session() as s:
            row = s.get(ApiSubscription, subscription_id)
            if row is None or row.client_id != who.client_id:
                return False
            row.active = False
            return True

    if not await run_in_threadpool(work):
        raise NotFound("no such subscription", code="NOT_FOUND")
    return Response(status_code=204)


# -- holder portal ----------------------------------------------------------------------------------
@router.post(
    "/holders/uses:search",
    response_model=schemas.HolderUsesResponse,
    tags=["holder portal"],
    summary="who used a holder's licenses, when and why (holder in the body, never in the URL)",
)
async def holder_uses(
    body: schemas.HolderUsesRequest,
    request: Request,
    who: Who,
    svc: Svc,
) -> JSONResponse:
    who.require_role(ROLE_HOLDER_PORTAL)
    port = _port(svc)
    licenses = await run_in_threadpool(port.find_by_holder, body.holder_code_type, body.holder_code, None)
    ids = [v.license_id for v in licenses]

    def work() -> list[dict[str, Any]]:
        with svc.db.session() as s:
            return uses_of_licenses(s, ids)

    uses = await run_in_threadpool(work)
    body_doc = {"count": len(uses), "uses": uses}
    receipt = await svc.uses.record(
        who,
        Use(
            op="holder_uses",
            license_ids=[],
            result="ok",
            payload_sha256=svc.uses.payload_hash(json.dumps(body_doc, sort_keys=True, default=str).encode()),
            request_id=_rid(request),
            holder_key=svc.uses.holder_key(body.holder_code_type, body.holder_code),
        ),
    )
    return _json_with_use(schemas.HolderUsesResponse, body_doc, receipt)


def today_shanghai() -> date:
    return utcnow().astimezone(SHANGHAI).date()
