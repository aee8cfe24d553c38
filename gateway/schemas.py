"""Request and response bodies of the sharing API (pydantic; they make the OpenAPI document).

Holder codes travel only in request bodies, never in a URL. Responses show holder codes masked.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.models import StatusAction

Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._-]+$")
]
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # printable text: no NUL or control characters
# one line of visible text: no control characters (CR, LF, TAB …), no bidi overrides or isolates,
# no zero-width characters — a use cause is written to the holder's use ledger and read by people
_LINE = r"^[^\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*$"
UseCause = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_LINE),
    Field(description="用证事由: why the license is needed (1–200 characters, one line of visible text)"),
]
HolderCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z()（）-]+$"),
]
LicenseIdPath = Annotated[
    str, Path(min_length=1, max_length=120, pattern=r"^[0-9A-Za-z.-]+$", description="证照标识 (ZZBS)")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_In):
    holder_code: HolderCode = Field(description="持证主体代码 (CZZTDM)")
    holder_code_type: Code = Field(description="持证主体代码类型 (CZZTDMLX), e.g. 111 resident ID, 001 USCC")
    type_code: Code | None = Field(default=None, description="证照类型代码 (ZZLXDM); must be granted")
    purpose: Code = Field(description="a purpose code from the client's grant")
    use_cause: UseCause


class CopyRequestBody(_In):
    purpose: Code
    use_cause: UseCause
    until: date = Field(description="last day the copy may be used (Asia/Shanghai date)")


class StatusChangeRequest(_In):
    action: StatusAction
    reason: UseCause


class HolderUsesRequest(_In):
    holder_code: HolderCode
    holder_code_type: Code


class SubscriptionRequest(_In):
    url: Annotated[str, StringConstraints(min_length=8, max_length=500, pattern=r"^https?://[^\s]+$")]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int


class Holder(BaseModel):
    name: str
    code_type: str
    code_masked: str


class LicenseOut(BaseModel):
    license_id: str = Field(description="证照标识 (ZZBS, GB/T 36904)")
    type_code: str
    name: str
    number: str
    issuer_name: str
    issuer_code: str
    issue_date: str
    status: str
    status_name: str
    valid_from: str | None = None
    valid_until: str | None = None
    holders: list[Holder] = Field(default_factory=list)
    fields: dict[str, str] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    count: int
    licenses: list[LicenseOut]
    use: UseRef


class UseRef(BaseModel):
    """Where the call was recorded in the use ledger."""

    stream: str
    seq: int
    entry_hash: str


class LicenseResponse(BaseModel):
    license: LicenseOut
    use: UseRef


class CopyInfo(BaseModel):
    purpose: str | None = None
    recipient: str | None = None
    until: str | None = None


class Validity(BaseModel):
    """The period of validity from the certified metadata and the moment it was judged at."""

    valid_from: str | None = Field(default=None, alias="from")
    valid_until: str | None = Field(default=None, alias="until", description="有效期截止日期; null: 长期")
    at: str

    model_config = ConfigDict(populate_by_name=True)


class VerifyResponse(BaseModel):
    valid: bool
    license_id: str | None = None
    status: str | None = None
    kind: str = "license"
    copy_info: CopyInfo | None = Field(default=None, alias="copy")
    reasons: list[str]
    messages: list[str] = Field(
        default_factory=list,
        description="one Chinese sentence per reason (license_expired names 有效期截止日期)",
    )
    validity: Validity | None = None
    notes: list[str] = Field(default_factory=list)
    use: UseRef

    model_config = ConfigDict(populate_by_name=True)


class UseOut(BaseModel):
    license_id: str
    dept_code: str
    client_id: str
    at: str
    op: str
    purpose: str | None = None
    cause: str | None = None
    result: str | None = None
    ledger: dict[str, Any]


class HolderUsesResponse(BaseModel):
    count: int
    uses: list[UseOut]
    use: UseRef


class SubscriptionOut(BaseModel):
    id: int
    url: str
    created_at: str
    active: bool


class Problem(BaseModel):
    """RFC 9457 problem details with a stable ``code``."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str | None = None

    model_config = ConfigDict(extra="allow")


SearchResponse.model_rebuild()
