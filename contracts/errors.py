"""The exception tree of ``contracts``; every error carries a stable ``code``.

ContractError                    every error raised by contracts
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


class ContractError(Exception):
    """Base of every error raised by ``contracts``."""

    code = "CONTRACT_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


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
