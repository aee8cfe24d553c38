"""The gateway's error tree and its one mapping to HTTP problem+json (RFC 9457).

::

    TongbanError (contracts.errors)  the kernel: ``code``, ``message``, ``as_dict()``
    └── GatewayError          500    every error the API answers with; INTERNAL_ERROR
        ├── Unauthorized      401    TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED, CLIENT_INVALID
        ├── Forbidden         403    TYPE_NOT_GRANTED, PURPOSE_NOT_GRANTED, ROLE_NOT_GRANTED, NOT_ISSUER
        ├── NotFound          404    LICENSE_NOT_FOUND, NOT_FOUND
        ├── Conflict          409    STATUS_TRANSITION_REFUSED, COPY_REFUSED
        ├── PayloadTooLarge   413    PAYLOAD_TOO_LARGE
        ├── UnsupportedMedia  415    UNSUPPORTED_MEDIA_TYPE
        ├── Unprocessable     422    VALIDATION_FAILED, NOT_A_PDF
        │   ├── ClientError   422    CLIENT_REGISTRATION_INVALID: a client registration that cannot
        │   │                        work, bad code or unknown role (gateway.clients)
        │   └── WebhookTargetRefused 422  WEBHOOK_TARGET_REFUSED: a webhook URL that is malformed or
        │                            reaches an internal address (gateway.webhook_targets)
        ├── RateLimited       429    RATE_LIMITED (carries ``retry_after`` seconds)
        └── Unavailable       503    LEDGER_UNAVAILABLE, DATABASE_UNAVAILABLE, UPSTREAM_UNAVAILABLE

Every code has one status and one Chinese title in :data:`CODES`; :func:`problem` builds the body.
Errors of the packages below (``core``, ``licenses``) are translated once, in :func:`from_core`.
"""

from __future__ import annotations

from typing import Any

from contracts.errors import TongbanError
from core.errors import CoreError, DatabaseError, LedgerError

PROBLEM_BASE = "urn:tongban:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# code -> (HTTP status, title)
CODES: dict[str, tuple[int, str]] = {
    "TOKEN_MISSING": (401, "缺少访问令牌 (missing bearer token)"),
    "TOKEN_INVALID": (401, "访问令牌无效 (invalid token)"),
    "TOKEN_EXPIRED": (401, "访问令牌已过期 (token expired)"),
    "CLIENT_INVALID": (401, "客户端认证失败 (client authentication failed)"),
    "TYPE_NOT_GRANTED": (403, "未授权的证照类型 (license type not granted)"),
    "PURPOSE_NOT_GRANTED": (403, "未授权的用证目的 (purpose not granted)"),
    "ROLE_NOT_GRANTED": (403, "未授权的操作 (operation not granted)"),
    "NOT_ISSUER": (403, "非本部门签发的证照 (not a license of this department)"),
    "LICENSE_NOT_FOUND": (404, "证照不存在 (license not found)"),
    "NOT_FOUND": (404, "资源不存在 (not found)"),
    "METHOD_NOT_ALLOWED": (405, "方法不允许 (method not allowed)"),
    "STATUS_TRANSITION_REFUSED": (409, "证照状态不允许此变更 (status transition refused)"),
    "COPY_REFUSED": (409, "证照当前无效，不能出具加注件 (license not valid: no copy)"),
    "PAYLOAD_TOO_LARGE": (413, "请求体过大 (payload too large)"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "不支持的内容类型 (unsupported media type)"),
    "VALIDATION_FAILED": (422, "请求参数不合法 (validation failed)"),
    "NOT_A_PDF": (422, "上传的文件不是PDF (not a PDF)"),
    "WEBHOOK_TARGET_REFUSED": (422, "回调地址不允许 (webhook target refused: internal or invalid address)"),
    "CLIENT_REGISTRATION_INVALID": (422, "客户端登记信息不合法 (client registration invalid)"),
    "RATE_LIMITED": (429, "请求过于频繁 (rate limit exceeded)"),
    "INTERNAL_ERROR": (500, "内部错误 (internal error)"),
    "LEDGER_UNAVAILABLE": (503, "用证记录无法写入，请求未执行 (use ledger unavailable)"),
    "DATABASE_UNAVAILABLE": (503, "数据库不可用 (database unavailable)"),
    "UPSTREAM_UNAVAILABLE": (503, "依赖服务不可用 (upstream unavailable)"),
}


class GatewayError(TongbanError):
    """Base of every error the API answers with; ``code`` is one of :data:`CODES`."""

    code = "INTERNAL_ERROR"

    def __init__(self, detail: str, *, code: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail, code=code)
        if self.code not in CODES:
            raise ValueError(f"unknown gateway error code {self.code!r}")
        self.detail = detail
        self.extra = extra or {}

    @property
    def status(self) -> int:
        return CODES[self.code][0]


class Unauthorized(GatewayError):
    code = "TOKEN_INVALID"


class Forbidden(GatewayError):
    code = "ROLE_NOT_GRANTED"


class NotFound(GatewayError):
    code = "NOT_FOUND"


class Conflict(GatewayError):
    code = "STATUS_TRANSITION_REFUSED"


class PayloadTooLarge(GatewayError):
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMedia(GatewayError):
    code = "UNSUPPORTED_MEDIA_TYPE"


class Unprocessable(GatewayError):
    code = "VALIDATION_FAILED"


class ClientError(Unprocessable):
    """A client registration that cannot work (bad code, unknown role); raised by :mod:`gateway.clients`."""

    code = "CLIENT_REGISTRATION_INVALID"


class WebhookTargetRefused(Unprocessable):
    code = "WEBHOOK_TARGET_REFUSED"


class RateLimited(GatewayError):
    code = "RATE_LIMITED"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(GatewayError):
    code = "UPSTREAM_UNAVAILABLE"


def problem(code: str, detail: str, *, instance: str | None = None, **extra: Any) -> dict[str, Any]:
    """The problem+json body of ``code``."""
    status, title = CODES.get(code, CODES["INTERNAL_ERROR"])
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def from_core(exc: CoreError) -> GatewayError:
    """Translate an error of ``core`` or ``licenses`` (both carry ``code``) into a gateway error."""
    if isinstance(exc, LedgerError):
        return Unavailable(
            "the use could not be written to the ledger, so the request was not carried out",
            code="LEDGER_UNAVAILABLE",
        )
    if isinstance(exc, DatabaseError):
        return Unavailable("the database is unavailable", code="DATABASE_UNAVAILABLE")
    return GatewayError(f"{type(exc).__name__} [{exc.code}]")
