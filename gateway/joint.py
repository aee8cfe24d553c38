"""``GET /v1/joint-cases/{joint_no}``: the one result of a joint case (联办件, 一件事一次办).

A joint case gives its holder one result: every member's result and the licenses issued together
(``core.jointcases``; written by the pipeline's issue flow). The route follows the sharing API's
rules (:mod:`gateway.api`): a bearer token, a purpose from the client's grant and a use cause
(用证事由); only license identifiers of types granted to the client are listed (the others are
counted, not named); an unknown joint case is 404; every allowed call is written to the client's
use-ledger stream before it is answered. No holder data is returned.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from core.canonical import canonical_bytes
from core.jointcases import JointCase
from core.masking import redact_text
from gateway import schemas
from gateway.api import AUTHED, _json_with_use, _rid, problem_responses
from gateway.deps import Svc, Who
from gateway.errors import NotFound
from gateway.uses import Use

router = APIRouter(prefix="/v1", responses=AUTHED)

JointNo = Annotated[
    str, Path(min_length=1, max_length=50, pattern=r"^[0-9A-Za-z-]+$", description="联办件编号 (joint_no)")
]


class JointMemberOut(BaseModel):
    task_code: str
    item: str = Field(description="事项名称")
    project_no: str | None = Field(description="办件编号 (none: the member was never started)")
    result_type: str | None = Field(description="办结类型 (code list result_type; none: not finished)")
    result_date: str | None
    type_code: str | None = Field(description="license type the member yields (ZZLXDM), if any")
    license_id: str | None = Field(
        description="the license issued (ZZBS), when of a type granted to the caller"
    )


class JointCaseOut(BaseModel):
    joint_no: str
    theme_code: str
    theme: str = Field(description="一件事 name")
    state: str = Field(description="open | overdue | granted | refused")
    reason: str | None = Field(description="why the joint case was refused (the member and its result)")
    accept_date: str
    promise_date: str = Field(description="joint promise date: the longest path through the members")
    provisional: bool
    members: list[JointMemberOut]
    licenses: list[str] = Field(description="the licenses issued together (types granted to the caller)")
    licenses_withheld: int = Field(description="licenses of types not granted to the caller (not named)")


class JointCaseResponse(BaseModel):
    joint_case: JointCaseOut
    use: schemas.UseRef


def _load(svc: Any, joint_no: str) -> dict[str, Any] | None:
    with svc.db.session() as s:
        case = s.get(JointCase, joint_no)
        if case is None or case.result is None:
            return None
        doc: dict[str, Any] = json.loads(case.result)
        doc.update(accept_date=case.accept_date, promise_date=case.promise_date, provisional=case.provisional)
        return doc


@router.get(
    "/joint-cases/{joint_no}",
    response_model=JointCaseResponse,
    tags=["joint cases"],
    summary="the one result of a joint case (联办件): every member's result and the licenses issued together",
    responses=problem_responses(404),
)
async def joint_case(
    joint_no: JointNo,
    request: Request,
    purpose: Annotated[schemas.Code, Query(description="a purpose code from the client's grant")],
    use_cause: Annotated[schemas.UseCause, Query()],
    who: Who,
    svc: Svc,
) -> JSONResponse:
    who.require_purpose(purpose)
    doc = await run_in_threadpool(_load, svc, joint_no)
    body: dict[str, Any] = {}
    ids: list[str] = []
    if doc is not None:
        members = []
        withheld = 0
        for m in doc["members"]:
            visible = m["license_id"] is not None and who.may_see(str(m["type_code"]))
            withheld += m["license_id"] is not None and not visible
            members.append({**m, "license_id": m["license_id"] if visible else None})
            if visible:
                ids.append(str(m["license_id"]))
        body = {
            "joint_case": JointCaseOut(
                joint_no=doc["joint_no"],
                theme_code=doc["theme_code"],
                theme=doc["theme"],
                state=doc["state"],
                reason=doc["reason"],
                accept_date=doc["accept_date"],
                promise_date=doc["promise_date"],
                provisional=doc["provisional"],
                members=[JointMemberOut(**m) for m in members],
                licenses=ids,
                licenses_withheld=withheld,
            ).model_dump(mode="json")
        }
    receipt = await svc.uses.record(
        who,
        Use(
            op="joint_case",
            license_ids=ids,
            result="ok" if doc is not None else "not_found",
            payload_sha256=svc.uses.payload_hash(canonical_bytes(body)),
            request_id=_rid(request),
            purpose=purpose,
            cause=use_cause,
            extra=None if doc is not None else {"asked": redact_text(joint_no)},
        ),
    )
    if doc is None:
        raise NotFound("no joint case with a result under this number", code="NOT_FOUND")
    return _json_with_use(JointCaseResponse, body, receipt)
