"""The service item catalog (事项目录) of the demo jurisdictions: ``contracts/catalog/items.json``.

For each service item (task_code): its name and version, jurisdiction, the department that
decides it (with its USCC), the statutory limit (法定时限, ``anticipate_day``) and the promised
limit (承诺时限, ``promise_day``) in working days, the applicants it takes, its materials, the
special procedures it may go through, and — when it ends in a license — the license type and the
source of every license field (metadata columns and ``KZ_*`` face fields)::

    {"source": "accept",   "column": "<up_pro_accept column>"}     e.g. the holder
    {"source": "result",   "column": "<up_pro_result column>"}     e.g. the certificate number
    {"source": "approval", "key": "<face key>" | "holders"}        the department's approval data
    {"source": "constant", "value": "..."}                         fixed by the item
    {"source": "rule",     "key": "validity"}                      from the type's validity rule

Themes (一件事, "one thing"): a theme bundles service items the citizen applies for once, at one
window; each member is a service item (so it has its department, its promised working days and
the license it may yield) and lists the members it waits on (``after``; parallel by default)::

    {"theme_code": "T5101290001", "name": "二手房交易一件事", "region_code": "510129",
     "members": [{"task_code": "<网签>", "after": []}, {"task_code": "<税务>", "after": ["<网签>"]}, ...]}

Checked at load: known items, each member once, ``after`` names members of the same theme, no
cycles, every member in the theme's region. One application of a theme is a joint case (联办件,
``up_pro_accept.joint_no``); its arithmetic is :mod:`contracts.joint`.

Codes in the shipped file are samples shaped like real ones (see ``description`` in the file).

Public API::

    Catalog, ServiceItem, Department, LicenseOutcome, FieldSource, Applicant   # pydantic models
    load_catalog(path=None, *, license_types=None) -> Catalog     # cached; checks against license types
    Catalog.item(task_code) -> ServiceItem ; .items_in(region_code) ; .department(code) -> Department
    ServiceItem.approval_keys -> tuple[str, ...]   # what the department's approval data must carry
    ServiceItem.primary_materials ; Catalog.primary_material_names() -> frozenset[str]   # never 容缺
    Catalog.province_abbreviation(region_code) -> str    # 川 / 桂 / 湘 (property certificate numbers)
    Theme, ThemeMember                                   # 一件事 and its members
    Catalog.theme(theme_code) -> Theme ; .themes_in(region_code) ; .theme_items(theme) -> items
    Theme.member(task_code) ; .task_codes ; .order() -> tuple[str, ...]   # members, predecessors first
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.codes import CODE_LISTS
from contracts.errors import CatalogError
from contracts.fields import TABLES
from contracts.licensetypes import LicenseType, load_license_types
from contracts.regions import is_known_region
from contracts.validators import is_valid_uscc

PACKAGED_FILE = Path(__file__).resolve().parent / "items.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSource(_Strict):
    source: Literal["accept", "result", "approval", "constant", "rule"]
    column: str | None = None
    key: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> FieldSource:
        if self.source in ("accept", "result"):
            table = "up_pro_accept" if self.source == "accept" else "up_pro_result"
            if self.column is None or not TABLES[table].has(self.column):
                raise ValueError(f"{self.source} source needs a column of {table}")
        elif self.source == "approval" and not self.key:
            raise ValueError("approval source needs a key")
        elif self.source == "constant" and self.value is None:
            raise ValueError("constant source needs a value")
        elif self.source == "rule" and self.key != "validity":
            raise ValueError("rule source must be key 'validity'")
        return self


class LicenseOutcome(_Strict):
    type_code: str
    sources: Mapping[str, FieldSource]


class Applicant(_Strict):
    applyer_types: tuple[str, ...] = Field(min_length=1)
    id_types: tuple[str, ...] = Field(min_length=1)


class Department(_Strict):
    code: str
    name: str
    region_code: str
    kind: str
    unit_name: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> Department:
        if not is_valid_uscc(self.code):
            raise ValueError(f"department {self.name}: code {self.code} is not a valid USCC")
        if not is_known_region(self.region_code):
            raise ValueError(f"department {self.name}: unknown region {self.region_code}")
        return self


class ServiceItem(_Strict):
    task_code: str = Field(min_length=1, max_length=64)
    task_version: str = Field(min_length=1, max_length=10)
    name: str = Field(min_length=1, max_length=200)
    region_code: str
    department: str
    anticipate_day: int = Field(ge=0)
    promise_day: int = Field(ge=0)
    applicant: Applicant
    materials: tuple[str, ...] = ()
    primary_materials: tuple[
        str, ...
    ] = ()  # 主要材料: never accepted as missing (容缺); a subset of materials
    special_procedures: tuple[str, ...] = ()
    license: LicenseOutcome | None = None

    @model_validator(mode="after")
    def _limits(self) -> ServiceItem:
        if self.promise_day > self.anticipate_day:
            raise ValueError(f"{self.name}: promise_day exceeds anticipate_day")
        for c in self.applicant.applyer_types:
            if not CODE_LISTS["applyer_type"].contains(c):
                raise ValueError(f"{self.name}: applyer type {c} not in code list")
        for c in self.applicant.id_types:
            if not CODE_LISTS["id_type"].contains(c):
                raise ValueError(f"{self.name}: id type {c} not in code list")
        extra = [m for m in self.primary_materials if m not in self.materials]
        if extra:
            raise ValueError(f"{self.name}: primary materials {extra} are not among its materials")
        for c in self.special_procedures:
            if not CODE_LISTS["procedure_type"].contains(c):
                raise ValueError(f"{self.name}: procedure type {c} not in code list")
        return self

    @property
    def approval_keys(self) -> tuple[str, ...]:
        if self.license is None:
            return ()
        return tuple(
            s.key for s in self.license.sources.values() if s.source == "approval" and s.key is not None
        )


class ThemeMember(_Strict):
    """One service item of a theme, with the members it waits on (none: starts at acceptance)."""

    task_code: str = Field(min_length=1, max_length=64)
    after: tuple[str, ...] = ()


class Theme(_Strict):
    """一件事: service items applied for once and worked by their departments in parallel, except
    where a member waits on another (``ThemeMember.after``)."""

    theme_code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    region_code: str
    description: str = ""
    members: tuple[ThemeMember, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _graph(self) -> Theme:
        codes = [m.task_code for m in self.members]
        if len(set(codes)) != len(codes):
            raise ValueError(f"theme {self.theme_code}: a member is listed twice")
        for m in self.members:
            for p in m.after:
                if p not in codes:
                    raise ValueError(
                        f"theme {self.theme_code}: member {m.task_code} waits on {p}, which is not a member"
                    )
                if p == m.task_code:
                    raise ValueError(f"theme {self.theme_code}: member {m.task_code} waits on itself")
        self.order()  # raises on a cycle
        return self

    @property
    def task_codes(self) -> tuple[str, ...]:
        return tuple(m.task_code for m in self.members)

    def member(self, task_code: str) -> ThemeMember:
        for m in self.members:
            if m.task_code == task_code:
                return m
        raise CatalogError(f"service item {task_code!r} is not a member of theme {self.theme_code}")

    def order(self) -> tuple[str, ...]:
        """Members in an order where every member comes after the members it waits on (file order
        among those that are free); a cycle raises ``ValueError`` naming its members."""
        done: list[str] = []
        left = list(self.members)
        while left:
            ready = [m for m in left if all(p in done for p in m.after)]
            if not ready:
                names = ", ".join(m.task_code for m in left)
                raise ValueError(f"theme {self.theme_code}: members wait on each other in a cycle: {names}")
            done.extend(m.task_code for m in ready)
            left = [m for m in left if m not in ready]
        return tuple(done)


class Catalog(_Strict):
    format: Literal[1] = 1
    sample: bool = False
    description: str = ""
    province_abbreviations: Mapping[str, str]
    departments: tuple[Department, ...]
    items: tuple[ServiceItem, ...]
    themes: tuple[Theme, ...] = ()

    @model_validator(mode="after")
    def _refs(self) -> Catalog:
        codes = {d.code for d in self.departments}
        tasks = [i.task_code for i in self.items]
        if len(set(tasks)) != len(tasks):
            raise ValueError("task codes repeat")
        for i in self.items:
            if i.department not in codes:
                raise ValueError(f"{i.name}: unknown department {i.department}")
            if not is_known_region(i.region_code):
                raise ValueError(f"{i.name}: unknown region {i.region_code}")
        by_task = {i.task_code: i for i in self.items}
        themes = [t.theme_code for t in self.themes]
        if len(set(themes)) != len(themes):
            raise ValueError("theme codes repeat")
        for t in self.themes:
            if not is_known_region(t.region_code):
                raise ValueError(f"theme {t.theme_code}: unknown region {t.region_code}")
            for m in t.members:
                item = by_task.get(m.task_code)
                if item is None:
                    raise ValueError(f"theme {t.theme_code}: member {m.task_code} names no service item")
                if item.region_code != t.region_code:
                    raise ValueError(
                        f"theme {t.theme_code}: member {m.task_code} ({item.name}) is of region "
                        f"{item.region_code}, not the theme's {t.region_code}"
                    )
        return self

    def item(self, task_code: str) -> ServiceItem:
        for i in self.items:
            if i.task_code == task_code:
                return i
        raise CatalogError(f"unknown service item {task_code!r}")

    def items_in(self, region_code: str) -> tuple[ServiceItem, ...]:
        return tuple(i for i in self.items if i.region_code == region_code)

    def department(self, code: str) -> Department:
        for d in self.departments:
            if d.code == code:
                return d
        raise CatalogError(f"unknown department {code!r}")

    def primary_material_names(self) -> frozenset[str]:
        """Names of the materials some item marks as primary (主要材料): never 容缺 (issue 18)."""
        return frozenset(m for i in self.items for m in i.primary_materials)

    def theme(self, theme_code: str) -> Theme:
        for t in self.themes:
            if t.theme_code == theme_code:
                return t
        raise CatalogError(f"unknown theme (一件事) {theme_code!r}")

    def themes_in(self, region_code: str) -> tuple[Theme, ...]:
        return tuple(t for t in self.themes if t.region_code == region_code)

    def theme_items(self, theme: Theme) -> tuple[ServiceItem, ...]:
        """The theme's service items, in member order."""
        return tuple(self.item(c) for c in theme.task_codes)

    def province_abbreviation(self, region_code: str) -> str:
        return self.province_abbreviations.get(region_code[:2] + "0000", "")

    def check_against(self, types: Mapping[str, LicenseType]) -> None:
        """Every license outcome names a known type and sources every required field of it."""
        meta = TABLES["license_metadata"]
        for i in self.items:
            if i.license is None:
                continue
            t = types.get(i.license.type_code)
            if t is None:
                raise CatalogError(f"{i.name}: unknown license type {i.license.type_code}")
            targets = set(i.license.sources)
            required = {
                f.name for f in meta.fields if f.required and f.name not in ("ZZMC", "ZZLXDM", "ZZBS")
            }
            required -= {"ZZBFJG", "ZZBFJGDM", "ZZZT"}  # from the issuing department and the registry
            required |= {f.key for f in t.face_fields if f.required}
            missing = required - targets
            if missing:
                raise CatalogError(f"{i.name}: no source for {sorted(missing)}")
            for target, src in i.license.sources.items():
                if target != "holders" and not (meta.has(target) or target in t.face_keys):
                    raise CatalogError(f"{i.name}: {target} is neither a metadata column nor a face field")
                if src.source == "approval" and src.key not in (*t.face_keys, "holders"):
                    raise CatalogError(f"{i.name}: approval key {src.key} is not a face field of {t.name}")
            if "holders" in targets and not t.allows_several_holders:
                raise CatalogError(f"{i.name}: {t.name} allows one holder only")
            code_type = i.license.sources.get("CZZTDMLX")
            if code_type is not None and code_type.source == "accept":
                bad = [c for c in i.applicant.id_types if c not in t.holder_code_types]
                if bad:
                    raise CatalogError(f"{i.name}: applicant id types {bad} cannot hold a {t.name}")
            elif (
                code_type is not None
                and code_type.source == "constant"
                and code_type.value not in t.holder_code_types
            ):
                raise CatalogError(f"{i.name}: holder code type {code_type.value} not allowed for {t.name}")


_CACHE: dict[str, Catalog] = {}


def load_catalog(
    path: str | Path | None = None, *, license_types: Mapping[str, LicenseType] | None = None
) -> Catalog:
    """Read and check the catalog (default: the packaged one), cached per path."""
    p = Path(path) if path is not None else PACKAGED_FILE
    cached = _CACHE.get(str(p))
    if cached is not None and license_types is None:
        return cached
    try:
        cat = Catalog.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise CatalogError(f"service item catalog {p} is invalid: {exc}") from exc
    cat.check_against(license_types if license_types is not None else load_license_types())
    _CACHE[str(p)] = cat
    return cat
