"""License types as data: one JSON file per type in this folder (``<key>.json``).

Each file names the type (证照名称), its 21-character type code (the defining authority's USCC +
3 digits, GB/T 36904), the defining authority, the holder code types allowed (CZZTDMLX; a type
may allow several and several holders), the face fields (key ``KZ_*``, Chinese label, length,
required), the validity rule, and the uniqueness key — the metadata columns / face-field keys
whose values may have only one *valid* instance at a time (the license registry enforces it):

    营业执照          uniqueness ZZLXDM + CZZTDM            (one per holder)
    食品经营许可证     uniqueness ZZLXDM + CZZTDM + KZ_JYCS   (one per holder and premises), 5 years
    不动产权证书       uniqueness ZZLXDM + KZ_BDCDYH          (one per property unit), several holders

The authority codes in the shipped files are samples (marked ``"sample": true``). Operators add
a type by adding a file (``load_license_types(folder)``); nothing is read at import time.

Public API::

    LicenseType, FaceField, Validity, AuthorityRef       # pydantic models of a type file
    load_license_types(folder=None) -> Mapping[str, LicenseType]   # type_code -> type (cached per folder)
    license_type(code_or_key, folder=None) -> LicenseType          # raises CatalogError
    LicenseType.face_field(key) -> FaceField ; .face_keys ; .validity_end(issue_date) -> date | None
    PACKAGED_FOLDER: Path
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.codes import CODE_LISTS
from contracts.errors import CatalogError
from contracts.fields import TABLES
from contracts.validators import is_valid_license_type_code, is_valid_uscc

PACKAGED_FOLDER = Path(__file__).resolve().parent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaceField(_Strict):
    key: str = Field(pattern=r"^KZ_[A-Z0-9_]+$")
    label: str = Field(min_length=1)
    length: int = Field(ge=1, le=4000)
    required: bool = True


class Validity(_Strict):
    """``long_term`` (no end date, 长期), ``years`` (end = issue date + N years − 1 day), or
    ``from_approval`` (the department's approval data gives ``valid_until``)."""

    rule: Literal["long_term", "years", "from_approval"]
    years: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _years(self) -> Validity:
        if (self.rule == "years") != (self.years is not None):
            raise ValueError("'years' is required for rule 'years' and only for it")
        return self


class AuthorityRef(_Strict):
    name: str
    code: str


class LicenseType(_Strict):
    format: Literal[1] = 1
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1, max_length=100)
    type_code: str
    defining_authority: AuthorityRef
    holder_code_types: tuple[str, ...] = Field(min_length=1)
    max_holders: int | None = Field(default=1, ge=1)
    number_rule: str = ""
    face_fields: tuple[FaceField, ...]
    validity: Validity
    uniqueness_key: tuple[str, ...] = Field(min_length=1)
    description: str = ""
    sample: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> LicenseType:
        if not is_valid_license_type_code(self.type_code):
            raise ValueError(f"type_code {self.type_code!r} is not a USCC + 3 digits")
        if not is_valid_uscc(self.defining_authority.code):
            raise ValueError("defining_authority.code is not a valid USCC")
        if self.type_code[:18] != self.defining_authority.code:
            raise ValueError("type_code must start with the defining authority's USCC")
        ids = CODE_LISTS["id_type"]
        bad = [c for c in self.holder_code_types if not ids.contains(c)]
        if bad:
            raise ValueError(f"holder code types not in the id_type code list: {bad}")
        keys = [f.key for f in self.face_fields]
        if len(set(keys)) != len(keys):
            raise ValueError("face field keys repeat")
        meta = TABLES["license_metadata"]
        for k in self.uniqueness_key:
            if not (meta.has(k) or k in keys):
                raise ValueError(f"uniqueness key {k!r} is neither a metadata column nor a face field")
        return self

    @property
    def face_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.face_fields)

    @property
    def allows_several_holders(self) -> bool:
        return self.max_holders is None or self.max_holders > 1

    def face_field(self, key: str) -> FaceField:
        for f in self.face_fields:
            if f.key == key:
                return f
        raise CatalogError(f"license type {self.name} has no face field {key!r}")

    def validity_end(self, issue_date: date, approval_until: date | None = None) -> date | None:
        """ZZYXQJZRQ for a license issued on ``issue_date`` (``None`` = long-term)."""
        if self.validity.rule == "long_term":
            return None
        if self.validity.rule == "from_approval":
            return approval_until
        years = self.validity.years or 0
        try:
            anniversary = issue_date.replace(year=issue_date.year + years)
        except ValueError:  # 29 February
            anniversary = date(issue_date.year + years, 3, 1)
        return anniversary - timedelta(days=1)


_CACHE: dict[str, Mapping[str, LicenseType]] = {}


def load_license_types(folder: str | Path | None = None) -> Mapping[str, LicenseType]:
    """Every ``*.json`` type file of ``folder`` (default: the packaged one), keyed by type code."""
    where = Path(folder) if folder is not None else PACKAGED_FOLDER
    cached = _CACHE.get(str(where))
    if cached is not None:
        return cached
    out: dict[str, LicenseType] = {}
    keys: set[str] = set()
    for p in sorted(where.glob("*.json")):
        try:
            t = LicenseType.model_validate(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError) as exc:
            raise CatalogError(f"license type file {p} is invalid: {exc}") from exc
        if t.type_code in out or t.key in keys:
            raise CatalogError(f"license type file {p} repeats type code {t.type_code} or key {t.key}")
        out[t.type_code] = t
        keys.add(t.key)
    result = MappingProxyType(out)
    _CACHE[str(where)] = result
    return result


def license_type(code_or_key: str, folder: str | Path | None = None) -> LicenseType:
    types = load_license_types(folder)
    if code_or_key in types:
        return types[code_or_key]
    for t in types.values():
        if t.key == code_or_key:
            return t
    raise CatalogError(
        f"unknown license type {code_or_key!r}; known: {', '.join(t.key for t in types.values())}"
    )
