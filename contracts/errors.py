"""The error kernel of tongban and the exception tree of ``contracts``; every error carries a stable ``code``.

:class:`TongbanError` is the one base every package's exception tree hangs from (it lives here, in
the bottom layer, so every package can import it). A class's ``code`` is a stable UPPER_SNAKE
string (checked when the class is made); an instance may carry a finer code (``code=`` on raise);
:meth:`TongbanError.as_dict` is the error as data (``code``, ``message``). Codes are translated once,
at a boundary: to problem+json by the gateway, to exit codes and messages by the CLI. The forest::

    TongbanError                     the kernel (TONGBAN_ERROR)
    ├── ContractError                contracts (below)
    ├── CoreError                    core.errors
    ├── QualityError                 quality.errors
    ├── ConnectorError               connectors.errors
    ├── LicenseError                 licenses.errors (PKI branch: licenses.pki.errors)
    ├── PipelineError                pipeline.errors
    └── GatewayError                 gateway.errors (every error the API answers with)

The tree of ``contracts``::

    ContractError                    every error raised by contracts (CONTRACT_ERROR)
    ├── InvalidCode                  an identifier fails its format or check character (CODE_INVALID)
    ├── SpecError                    unknown table, column, code list or rule id (SPEC_UNKNOWN)
    ├── CatalogError                 unknown license type or service item, or a bad data file (CATALOG_ERROR)
    ├── CalendarError                working-day calendar problems (CALENDAR_ERROR)
    │   ├── UnknownYearError         a year known neither to chinese-calendar nor to a supplement file
    │   │                            (CALENDAR_YEAR_UNKNOWN); names the file the operator must add
    │   └── SupplementError          a supplement file that cannot be read (CALENDAR_SUPPLEMENT_INVALID)
    └── FormatError                  a case file that cannot be read (FORMAT_INVALID)
        └── EncodingError            bytes in no declared or detectable encoding (FORMAT_ENCODING)
"""

from __future__ import annotations

import re
from typing import Any

CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
"""What a class's ``code`` looks like: UPPER_SNAKE (``X_LOGGING_FAILED`` in X-Road's words)."""


class TongbanError(Exception):
    """The kernel: base of every error raised by tongban's packages.

    ``code`` is a stable class attribute (UPPER_SNAKE, checked when a subclass is made); an
    instance may carry a finer ``code`` given on raise. ``message`` is what was said, the way
    ``str(exc)`` says it unless a package renders more.
    """

    code = "TONGBAN_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("code")
        if own is not None and not (isinstance(own, str) and CODE_PATTERN.fullmatch(own)):
            raise TypeError(f"{cls.__qualname__}.code must be an UPPER_SNAKE string, not {own!r}")

    def as_dict(self) -> dict[str, Any]:
        """The error as data: its ``code`` and ``message`` (packages add their own context)."""
        return {"code": self.code, "message": self.message}


class ContractError(TongbanError):
    """Base of every error raised by ``contracts``."""

    code = "CONTRACT_ERROR"


class InvalidCode(ContractError):
    code = "CODE_INVALID"


class SpecError(ContractError):
    code = "SPEC_UNKNOWN"


class CatalogError(ContractError):
    code = "CATALOG_ERROR"


class CalendarError(ContractError):
    code = "CALENDAR_ERROR"


class UnknownYearError(CalendarError):
    """A year no source knows; ``year`` and ``file_name`` say what to add."""

    code = "CALENDAR_YEAR_UNKNOWN"

    def __init__(self, year: int, file_name: str, folders: tuple[str, ...] = ()) -> None:
        where = f" in {', '.join(folders)}" if folders else " in the calendar supplement folder"
        super().__init__(
            f"no working-day schedule for {year}: chinese-calendar does not cover it and no supplement "
            f"file {file_name} was found{where}; add {file_name} (holidays and make-up working days of "
            f"the State Council's {year} schedule)"
        )
        self.year = year
        self.file_name = file_name


class SupplementError(CalendarError):
    code = "CALENDAR_SUPPLEMENT_INVALID"


class FormatError(ContractError):
    code = "FORMAT_INVALID"


class EncodingError(FormatError):
    code = "FORMAT_ENCODING"
