"""Structured logging for every tongban process.

One call, :func:`configure_logging`, sets a JSON (or readable key=value) format on the root
logger with a filter that masks resident ID numbers and strips PEM private keys from every
message and field, so no caller can leak them by accident. Use ``log_event(logger, event, **fields)``
to log an event with fields.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from core.masking import redact_text

_NOISY = ("alembic", "airflow", "great_expectations", "httpx", "urllib3", "zeep", "spyne", "pyhanko", "minio")
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Masks citizen IDs and private keys in the message and in every extra field."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if record.args:
            record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
        for key, value in list(vars(record).items()):
            if key not in _RESERVED and isinstance(value, str):
                setattr(record, key, redact_text(value))
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED}


_BIDI_CODES = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)
_BIDI = {c: f"\\u{c:04x}" for c in _BIDI_CODES}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(_fields(record))
        if record.exc_info:
            doc["exc"] = redact_text(self.formatException(record.exc_info))
        # Chinese stays readable; bidi overrides are written as JSON escapes (they only occur in strings)
        return json.dumps(doc, ensure_ascii=False, default=str).translate(_BIDI)


# a log line is one line: control characters (CR, LF, ESC …) and bidi overrides in a message or
# field — e.g. ``%0A`` in a request path — are escaped, so input cannot forge a line or hide text
_UNSAFE = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | _BIDI


def escape_line(text: str) -> str:
    """``text`` with every control and bidi-override character written as an escape."""
    return text if text.isprintable() else text.translate(_UNSAFE)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={escape_line(str(v))}" for k, v in _fields(record).items())
        line = f"{record.levelname.lower():7} {record.name}: {escape_line(record.getMessage())}" + (
            f" {extra}" if extra else ""
        )
        if record.exc_info:
            line += "\n" + redact_text(self.formatException(record.exc_info))
        return line


def configure_logging(level: str = "INFO", *, json_format: bool = False) -> None:
    """Install the redacting handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tongban", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._tongban = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json_format else KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with structured fields (masked by the filter on output)."""
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    logger.log(level, event, extra=fields)
