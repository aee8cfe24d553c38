"""The exception tree of ``connectors`` and the one place where library errors are translated.

::

    TongbanError (contracts.errors)   the kernel: ``code``, ``message``, ``as_dict()``
    └── ConnectorError                every error raised by connectors; peer, operation, attempt, code
        ├── RetryableError            trying again later may succeed (the outbox and clients retry these)
        │   ├── TransportError        the exchange failed on the way (no usable answer)
        │   │   ├── Timeout           connect or read deadline passed          CONNECTOR_TIMEOUT
        │   │   ├── NetworkError      refused, reset, closed mid-reply         CONNECTOR_NETWORK
        │   │   └── ServerError       HTTP 5xx / 429 without a SOAP fault      CONNECTOR_SERVER_ERROR
        │   ├── SoapFault             soap:Server fault (the peer's fault)     CONNECTOR_SOAP_FAULT
        │   ├── MalformedResponse     the reply is not what the contract says  CONNECTOR_MALFORMED *
        │   ├── CircuitOpen           the breaker of this endpoint is open     CONNECTOR_CIRCUIT_OPEN
        │   └── FencedOff             our claim was taken over (stale worker)  CONNECTOR_FENCED
        └── PermanentError            the same request will fail again
            ├── ClientFault           soap:Client fault / HTTP 4xx             CONNECTOR_CLIENT_FAULT
            ├── AuthError             401 / 403 / wsse rejected                CONNECTOR_AUTH
            ├── ResponseTooLarge      reply exceeded max_response_bytes        CONNECTOR_RESPONSE_TOO_LARGE *
            ├── XmlAttack             DTD, entity or external reference        CONNECTOR_XML_ATTACK *
            └── ConfigurationError    registry, mapping or connection is wrong CONNECTOR_CONFIG

A hostile or oversized reply is permanent *for that reply*: the outbox still keeps the rows it
carried pending (the rows are not at fault) — see :mod:`connectors.outbox`.

*Refused replies* (marked * above; :class:`RefusedReply` is their common mixin) are replies we would
not read: malformed, oversized or hostile. For a **read** (an idempotent query: counts, lookups,
feed pages) asking again is always safe, so :func:`connectors.resilience.call_with_retry` with
``idempotent=True`` spends one attempt of the same budget on each and tries again; only a spent
budget ends the read, with :attr:`ConnectorError.attempts` and the last cause in the message.

No caller ever catches a zeep, requests, httpx or SQLAlchemy exception: :func:`translate` maps
them, once, and every client raises ``translate(exc, ...) from exc``.
"""

from __future__ import annotations

from typing import Any

from contracts.errors import TongbanError


class ConnectorError(TongbanError):
    """Base of every error raised by ``connectors``."""

    code = "CONNECTOR_ERROR"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        peer: str | None = None,
        operation: str | None = None,
        attempt: int | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.peer = peer
        self.operation = operation
        self.attempt = attempt
        self.attempts: int | None = None  # set when a retry budget was spent on this error
        self.status = status

    def with_context(
        self, *, peer: str | None = None, operation: str | None = None, attempt: int | None = None
    ) -> ConnectorError:
        """Fill in context that the raiser did not know (returns self)."""
        self.peer = self.peer or peer
        self.operation = self.operation or operation
        self.attempt = attempt if attempt is not None else self.attempt
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "peer": self.peer,
            "operation": self.operation,
            "attempt": self.attempt,
            "attempts": self.attempts,
            "status": self.status,
            "retryable": self.retryable,
        }

    def __str__(self) -> str:
        where = "/".join(x for x in (self.peer, self.operation) if x)
        if self.attempts:
            at = f" (gave up after {self.attempts} attempts)"
        else:
            at = f" (attempt {self.attempt})" if self.attempt else ""
        return f"{self.message} [{self.code}{' ' + where if where else ''}{at}]"


class RefusedReply:
    """Mixin: the peer answered, but we refused to read the reply (malformed, oversized, hostile)."""


class RetryableError(ConnectorError):
    code = "CONNECTOR_RETRYABLE"
    retryable = True


class PermanentError(ConnectorError):
    code = "CONNECTOR_PERMANENT"
    retryable = False


class TransportError(RetryableError):
    code = "CONNECTOR_TRANSPORT"


class Timeout(TransportError):
    code = "CONNECTOR_TIMEOUT"


class NetworkError(TransportError):
    code = "CONNECTOR_NETWORK"


class ServerError(TransportError):
    code = "CONNECTOR_SERVER_ERROR"


class SoapFault(RetryableError):
    code = "CONNECTOR_SOAP_FAULT"

    def __init__(self, message: str, *, fault_code: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.fault_code = fault_code


class MalformedResponse(RetryableError, RefusedReply):
    code = "CONNECTOR_MALFORMED"


class CircuitOpen(RetryableError):
    code = "CONNECTOR_CIRCUIT_OPEN"


class FencedOff(RetryableError):
    code = "CONNECTOR_FENCED"


class ClientFault(PermanentError):
    code = "CONNECTOR_CLIENT_FAULT"


class AuthError(PermanentError):
    code = "CONNECTOR_AUTH"


class ResponseTooLarge(PermanentError, RefusedReply):
    code = "CONNECTOR_RESPONSE_TOO_LARGE"


class XmlAttack(PermanentError, RefusedReply):
    code = "CONNECTOR_XML_ATTACK"


class ConfigurationError(PermanentError):
    code = "CONNECTOR_CONFIG"


def http_status_error(status: int, text: str, **ctx: Any) -> ConnectorError:
    if status in (401, 403):
        return AuthError(f"peer refused our credentials (HTTP {status})", status=status, **ctx)
    if status == 429 or status >= 500:
        return ServerError(f"peer answered HTTP {status}: {text[:200]}", status=status, **ctx)
    return ClientFault(f"peer rejected the request (HTTP {status}): {text[:200]}", status=status, **ctx)


def translate(
    exc: BaseException, *, peer: str | None = None, operation: str | None = None, attempt: int | None = None
) -> ConnectorError:
    """Map any library exception to the connectors tree (the ONLY place that knows them)."""
    ctx: dict[str, Any] = {"peer": peer, "operation": operation, "attempt": attempt}
    if isinstance(exc, ConnectorError):
        return exc.with_context(peer=peer, operation=operation, attempt=attempt)

    # lxml / zeep XML hardening: checked before zeep's generic errors (they subclass them)
    import lxml.etree

    try:
        from zeep import exceptions as zx
    except ImportError:  # pragma: no cover - zeep is a hard dependency
        zx = None
    if zx is not None:
        if isinstance(exc, zx.DTDForbidden | zx.EntitiesForbidden):
            return XmlAttack(
                f"reply refused: it carries a {'DTD' if isinstance(exc, zx.DTDForbidden) else 'entity'} "
                "declaration (DTDs, entities and external references are forbidden)",
                **ctx,
            )
        if isinstance(exc, zx.Fault):
            code = str(exc.code or "")
            msg = f"peer answered a SOAP fault {code}: {exc.message}"
            if "Authentication" in code:
                return AuthError(msg, **ctx)
            if code.endswith("Client") or code.endswith("Sender") or ".Client" in code or "Client." in code:
                return ClientFault(msg, **ctx)
            return SoapFault(msg, fault_code=code, **ctx)
        if isinstance(exc, zx.TransportError):
            status = int(exc.status_code or 0)
            if 200 <= status < 300:  # zeep could not read a 2xx body
                return MalformedResponse(
                    f"reply is not a SOAP envelope: {str(exc.content or b'')[:120]}", **ctx
                )
            return http_status_error(status, str(exc.content or b"")[:200], **ctx)
        if isinstance(exc, zx.XMLSyntaxError | zx.XMLParseError | zx.ValidationError | zx.LookupError):
            return MalformedResponse(f"reply is not valid for the contract: {exc}", **ctx)
        if isinstance(exc, zx.Error):
            return MalformedResponse(f"SOAP processing failed: {exc}", **ctx)
    if isinstance(exc, lxml.etree.XMLSyntaxError):
        text = str(exc)
        if "entity" in text.lower() or "dtd" in text.lower():
            return XmlAttack(f"reply refused: {text}", **ctx)
        return MalformedResponse(f"reply is not well-formed XML: {text}", **ctx)

    import requests

    # FACTS.md: a read timeout through zeep's requests transport surfaces as ConnectionError
    if isinstance(exc, requests.exceptions.Timeout):
        return Timeout(f"no answer in time: {exc}", **ctx)
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "timed out" in text.lower() or "timeout" in text.lower():
            return Timeout(f"no answer in time: {_short(text)}", **ctx)
        return NetworkError(f"connection failed: {_short(text)}", **ctx)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return NetworkError(f"reply cut off: {_short(str(exc))}", **ctx)
    if isinstance(exc, requests.exceptions.RequestException):
        return NetworkError(f"request failed: {_short(str(exc))}", **ctx)

    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"no answer in time: {type(exc).__name__}", **ctx)
    if isinstance(exc, httpx.HTTPStatusError):
        return http_status_error(exc.response.status_code, exc.response.text[:200], **ctx)
    if isinstance(exc, httpx.TransportError):
        return NetworkError(f"connection failed: {type(exc).__name__}: {_short(str(exc))}", **ctx)

    from sqlalchemy import exc as sx

    if isinstance(exc, sx.OperationalError | sx.InterfaceError | sx.DisconnectionError):
        text = str(getattr(exc, "orig", exc))
        if "timeout" in text.lower() or "canceling statement" in text.lower():
            return Timeout(f"database did not answer in time: {_short(text)}", **ctx)
        return NetworkError(f"database connection failed: {_short(text)}", **ctx)
    if isinstance(exc, sx.IntegrityError | sx.DataError | sx.ProgrammingError):
        return ClientFault(f"database refused the rows: {_short(str(getattr(exc, 'orig', exc)))}", **ctx)

    if isinstance(exc, TimeoutError):
        return Timeout(f"no answer in time: {exc}", **ctx)
    if isinstance(exc, ConnectionError | OSError):
        return NetworkError(f"connection failed: {exc}", **ctx)
    if isinstance(exc, ValueError | UnicodeDecodeError):
        return MalformedResponse(f"reply could not be read: {_short(str(exc))}", **ctx)
    return ConnectorError(f"unexpected {type(exc).__name__}: {_short(str(exc))}", **ctx)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
