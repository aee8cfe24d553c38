"""Data contracts of tongban (通办): the one specification every other package agrees on.

Pure: no I/O at import, no imports of our other packages, light third-party imports only
(pydantic, chinese-calendar). Submodules, each documenting its public API in its docstring:

    contracts.fields        the field table of every case table and of license metadata (source of truth)
    contracts.codes         code lists with provenance (standard / catalog / this project's own)
    contracts.rules         rule ids with one-line descriptions, severity and scope
    contracts.models        pydantic models (case rows, license metadata, department approval data)
    contracts.validators    USCC, organization code, resident ID, region code, GB/T 36904 identifier
    contracts.regions       GB/T 2260 codes known to the project (demo jurisdictions, provinces, cities)
    contracts.calendar      working-day calendar (chinese-calendar + operator supplement per year)
    contracts.licensetypes  license types as data files (营业执照, 食品经营许可证, 不动产权证书)
    contracts.catalog       service item catalog of the demo jurisdictions (事项目录), face-field sources
    contracts.formats       JSON Lines reading/writing, UTF-8 / GB18030 / GBK detection
    contracts.schemas       JSON Schema export of every model (contracts/schemas/*.json)
    contracts.checks        pure-python reference checker (row rules + batch rules)
    contracts.errors        the error kernel (TongbanError: every package's errors hang from it)
                            and the exception tree of contracts (ContractError, stable ``code``)

The names re-exported below are the stable core; import the rest from their submodule.
"""

from __future__ import annotations

from contracts.errors import (
    CalendarError,
    CatalogError,
    ContractError,
    EncodingError,
    FormatError,
    InvalidCode,
    SpecError,
    SupplementError,
    TongbanError,
    UnknownYearError,
)
from contracts.fields import CASE_TABLES, CHILD_TABLES, SPEC_VERSION, SYNC_COLUMNS, TABLES, table_spec
from contracts.rules import RULES, rule

__all__ = [
    "CASE_TABLES",
    "CHILD_TABLES",
    "RULES",
    "SPEC_VERSION",
    "SYNC_COLUMNS",
    "TABLES",
    "CalendarError",
    "CatalogError",
    "ContractError",
    "EncodingError",
    "FormatError",
    "InvalidCode",
    "SpecError",
    "SupplementError",
    "TongbanError",
    "UnknownYearError",
    "rule",
    "table_spec",
]
