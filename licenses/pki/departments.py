"""The departments that hold a seal (电子印章) certificate: a list kept as data, easy to extend.

The built-in list is ``departments.json`` beside this module: the issuing departments of the
service-item catalog of ``contracts`` (same USCCs and names, 大邑县 510129, 天全县 511825,
达州市 511700, 西林县 451030, 邵阳县 430523; a test keeps the two in step). An operator adds or
replaces departments with a JSON file of the same shape named by ``TONGBAN_PKI__DEPARTMENTS_FILE``:
an entry whose ``code`` is already known replaces the built-in one, others are added. A department
is found by its ``code`` (a short slug, also part of its key names) or its USCC (统一社会信用代码),
which the catalog uses for issuing authorities (ZZBFJGDM).

Every entry is checked when loaded: code syntax, USCC (GB 32100 check character and the embedded
GB 11714 organization code, by ``contracts.validators``), region code, name length, no duplicates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from contracts.validators import uscc_problem
from licenses.pki.errors import PkiError, UnknownDepartment

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
_REGION = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Department:
    """A department (部门) that signs licenses with its own seal."""

    code: str  # slug, e.g. "dayi-scjg"; part of the seal key names
    name: str  # 大邑县市场监督管理局
    uscc: str  # 统一社会信用代码 (18 characters)
    region_code: str  # GB/T 2260 行政区划代码, e.g. 510129
    province: str  # 四川省
    locality: str  # 大邑县

    @property
    def seal_name(self) -> str:
        """The seal's name (ZZQZMC on a license): 《name》电子证照专用章."""
        return f"{self.name}电子证照专用章"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _parse(doc: Any, source: str) -> list[Department]:
    if not isinstance(doc, dict) or not isinstance(doc.get("departments"), list):
        raise PkiError(f"{source}: expected an object with a 'departments' list", code="PKI_DEPARTMENTS_FILE")
    out = []
    fields = set(Department.__dataclass_fields__)
    for i, entry in enumerate(doc["departments"]):
        if not isinstance(entry, dict) or set(entry) != fields:
            raise PkiError(
                f"{source}: department #{i + 1} must have exactly the fields {sorted(fields)}",
                code="PKI_DEPARTMENTS_FILE",
            )
        dept = Department(**{k: str(v) for k, v in entry.items()})
        if not _CODE.match(dept.code):
            raise PkiError(
                f"{source}: department code {dept.code!r} must be 2-40 of a-z, 0-9, '-'",
                code="PKI_DEPARTMENTS_FILE",
            )
        problem = uscc_problem(dept.uscc)
        if problem is not None:
            raise PkiError(
                f"{source}: department {dept.code!r} has an invalid USCC {dept.uscc!r}: {problem}",
                code="PKI_DEPARTMENTS_FILE",
            )
        if len(f"{dept.name}（样例）".encode()) > 64:
            raise PkiError(
                f"{source}: department name {dept.name!r} is too long for a certificate common name "
                "(at most 52 bytes of UTF-8, i.e. 17 Chinese characters)",
                code="PKI_DEPARTMENTS_FILE",
            )
        if not _REGION.match(dept.region_code) or not dept.name:
            raise PkiError(
                f"{source}: department {dept.code!r} needs a name and a 6-digit region code",
                code="PKI_DEPARTMENTS_FILE",
            )
        out.append(dept)
    return out


class DepartmentList:
    """The departments, by code and by USCC."""

    def __init__(self, departments: list[Department]) -> None:
        self._by_code: dict[str, Department] = {}
        self._by_uscc: dict[str, Department] = {}
        for dept in departments:
            self._by_code[dept.code] = dept
        for dept in self._by_code.values():
            if dept.uscc in self._by_uscc:
                raise PkiError(
                    f"departments {self._by_uscc[dept.uscc].code!r} and {dept.code!r} share USCC {dept.uscc}",
                    code="PKI_DEPARTMENTS_FILE",
                )
            self._by_uscc[dept.uscc] = dept

    def __iter__(self) -> Iterator[Department]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def codes(self) -> list[str]:
        return list(self._by_code)

    def get(self, code_or_uscc: str) -> Department:
        """A department by its code or its USCC; :class:`UnknownDepartment` names the known codes."""
        key = code_or_uscc.strip()
        dept = self._by_code.get(key.lower()) or self._by_uscc.get(key.upper())
        if dept is None:
            raise UnknownDepartment(
                f"unknown department {code_or_uscc!r}; known: {', '.join(self._by_code)} "
                "(add one in TONGBAN_PKI__DEPARTMENTS_FILE)"
            )
        return dept


def builtin_departments() -> list[Department]:
    text = resources.files("licenses.pki").joinpath("departments.json").read_text(encoding="utf-8")
    return _parse(json.loads(text), "licenses/pki/departments.json")


def load_departments(extra_file: Path | None = None) -> DepartmentList:
    """The built-in departments, extended (or overridden by code) by ``extra_file``."""
    departments = builtin_departments()
    if extra_file is not None:
        try:
            doc = json.loads(Path(extra_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PkiError(
                f"cannot read the departments file {extra_file}: {exc}", code="PKI_DEPARTMENTS_FILE"
            ) from exc
        departments += _parse(doc, str(extra_file))
    return DepartmentList(departments)
