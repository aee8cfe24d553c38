"""Synthetic county case data (办件) for the demo jurisdictions, with planted defects.

It writes files, so it lives here with the simulated peers rather than in the pure ``contracts``
(whose field table, rules, calendar, catalog and validators it builds every row from); like every
sandbox module it imports ``contracts`` only.

``write_case_files(out, count, seed=..., bad_ratio=...)`` writes three JSON Lines files:

* ``FILE`` — ``count`` case rows of the six tables, tagged with ``table``: realistic cases of the
  demo jurisdictions (Chinese names, valid codes, working-day promise dates from
  :mod:`contracts.calendar`, steps, special procedures, results with certificate numbers of the
  license types, materials, 好差评 ratings). Rows of several cases interleave, and some cases send
  children before their accept row. Exactly ``count`` rows; every case in the file is complete
  or cut only at its tail (its accept row is always there).
* ``FILE.defects.jsonl`` — one line per planted defect:
  ``{"line", "row_guid", "table", "rule_id", "kind", "field", "project_no"}``. With
  ``bad_ratio`` R each row independently carries one realistic defect with probability R; the
  defect is built so that the reference checker (:mod:`contracts.checks`) quarantines exactly
  that row with (at least) ``rule_id``, and no clean row. Kinds → rule ids:
  bad check digit (``accept.applyer_id.check_digit`` / ``accept.org_code.uscc``), accept before
  apply (``accept.date_order``), missing required field (``field.required``), unknown region
  (``accept.region_code``), promise day beyond anticipate day (``accept.promise_day_order``; the
  promise date is recomputed for the bad promise day, so only that rule fires), duplicate
  row_guid (``row.duplicate_guid``: a later re-send of an earlier clean row — the later
  occurrence is the defective one), malformed date (``field.date_format`` /
  ``field.timestamp_format``), over-long field (``field.max_length``), wrong code
  (``field.code_list``).
  ``project_no`` is the case's real number (even when the defect mangles it). **Children of a
  defective accept row are not listed**: they are clean but have no accepted parent, so the
  quality layer holds them (``child.parent_missing``); they are exactly the child rows whose
  ``project_no`` is that of a defects-file line with table ``up_pro_accept`` and a rule other
  than ``row.duplicate_guid`` (whose original accept row is valid).
* ``FILE.approvals.jsonl`` — the department's approval data (:class:`contracts.models.DepartmentApproval`
  plus ``"late": bool``) for every case in the file that ends in a license (result row present,
  result type 1, item with a license type). Late ones have ``sent_at`` 5–30 days after the result
  and appear further down the file, as they would arrive.

Deterministic for a seed (same arguments → byte-identical files). Streams: memory is flat in
``count`` (a pool of open cases, a bounded ring of recent rows for duplicates).

Public API::

    DEFECT_KINDS: tuple[str, ...]
    GeneratorOptions(seed=0, bad_ratio=0.0, start=2025-01-02, end=2026-10-30, child_first_ratio=0.08,
                     late_ratio=0.12, pool_size=12, regions=())   # regions: a subset of DEMO_JURISDICTIONS
    Emitted(kind: "row" | "defect" | "approval", data: dict)
    CaseGenerator(options, *, calendar=None, catalog=None).emit(count) -> Iterator[Emitted]
    write_case_files(out, count, *, seed=0, bad_ratio=0.0, batches=1, calendar=None, progress=None)
        -> GenerationSummary
    defects_path(out) -> Path ; approvals_path(out) -> Path ; batch_paths(out, batches) -> list[Path]
    held_children(defects) -> set[str]      # project_nos whose children the quality layer will hold
    reuse_cases(holders, *, today, seed=0) -> list[dict]   # follow-up 食品经营许可 cases that reuse
                                            # 营业执照 issued earlier (电子证照免提交, issue 18)

容缺 (issue 18): about ``deferred_ratio`` of the secondary materials (those the catalog does not
list in ``primary_materials``) are accepted as missing (material_state 2) with a supply-by date
within the promised limit; their supply (material_state 3, cd_operation U, a row_guid of its own)
follows by that date mostly, later for some finished cases, and never for about half of the
unfinished cases (a missed supply date). These draw from a stream of their own.

Why one module of this length: one seeded random stream draws every table of a case in order, so the
files are reproducible from the seed; split across modules, that stream (and the vectors the tests
pin) would be threaded through all of them.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

from contracts import rules as R
from contracts.calendar import WorkCalendar, default_calendar
from contracts.catalog import Catalog, Department, ServiceItem, load_catalog
from contracts.codes import CODE_LISTS
from contracts.errors import UnknownYearError
from contracts.fields import TABLES
from contracts.joint import plan_joint
from contracts.licensetypes import LicenseType, load_license_types
from contracts.regions import DEMO_JURISDICTIONS, REGIONS, region_full_name
from contracts.validators import (
    RESIDENT_ID_CHECK_CHARS,
    USCC_ALPHABET,
    make_resident_id,
    make_uscc,
)

DEFECT_KINDS: tuple[str, ...] = (
    "bad_check_digit",
    "accept_before_apply",
    "missing_required",
    "unknown_region",
    "promise_day_beyond",
    "duplicate_guid",
    "malformed_date",
    "over_long",
    "wrong_code",
)
_ACCEPT_ONLY = frozenset({"bad_check_digit", "accept_before_apply", "unknown_region", "promise_day_beyond"})
_CHILD_KINDS = tuple(k for k in DEFECT_KINDS if k not in _ACCEPT_ONLY)

# --- word lists (all fictional combinations) ------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟"
    "熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱覃"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鑫琳建国志文斌宇浩凯"
    "婷雪慧晨阳欣怡佳俊豪子涵梓萱一诺浩然思远德兴永福春梅秋菊海燕国庆建华兴旺光荣"
)
SHOP_WORDS = (
    "鑫源",
    "福满",
    "顺发",
    "德润",
    "红星",
    "聚福",
    "惠民",
    "金穗",
    "兴隆",
    "蜀香",
    "山水",
    "百味",
    "和美",
    "川味",
    "青山",
)
SHOP_KINDS = (
    ("小吃店", "餐饮服务；小吃制售"),
    ("便利店", "预包装食品销售；日用百货零售"),
    ("理发店", "理发及美容服务"),
    ("五金店", "五金产品零售；建材零售"),
    ("农资店", "化肥、农药(不含危险化学品)零售；农副产品销售"),
    ("茶馆", "茶座服务；预包装食品销售"),
    ("面馆", "餐饮服务；热食类食品制售"),
    ("水果店", "水果、蔬菜零售"),
)
COMPANY_KINDS = ("餐饮管理有限公司", "食品有限公司", "商贸有限公司", "农业开发有限公司", "酒店管理有限公司")
FOOD_FORMATS = (
    ("1", "食品销售经营者", "预包装食品(含冷藏冷冻食品)销售；散装食品(不含冷藏冷冻食品)销售"),
    ("2", "餐饮服务经营者", "热食类食品制售；冷食类食品制售"),
    ("3", "单位食堂", "热食类食品制售"),
)
TOWNS: Mapping[str, tuple[str, ...]] = {
    "510129": ("晋原街道", "安仁镇", "新场镇", "悦来镇"),
    "511825": ("城厢镇", "始阳镇", "小河镇", "思经镇"),
    "511700": ("西外镇", "北外镇", "东城街道", "朝阳街道"),
    "451030": ("八达镇", "古障镇", "那劳镇", "西平乡"),
    "430523": ("塘渡口镇", "白仓镇", "五峰铺镇", "九公桥镇"),
}
ROADS = ("人民路", "建设路", "解放街", "新华路", "滨河路", "文化路", "迎宾大道", "兴业路", "中山街")
OPINIONS: Mapping[str, tuple[str, ...]] = {
    "受理": ("申请材料齐全，符合法定形式，予以受理。", "一窗受理，材料已扫描流转。"),
    "审查": ("经审查，申请材料真实有效。", "材料审查通过，转审核。"),
    "踏勘": ("经现场核查，场所布局符合要求。", "现场勘验完成，情况属实。"),
    "审核": ("审核通过。", "符合条件，拟同意。"),
    "决定": ("准予许可。", "同意办理。"),
    "办结": ("办结，结果已同步生成电子证照。", "办结。"),
    "送达": ("EMS寄递送达。", "窗口领取。"),
}
# single cases draw from a jurisdiction's first five catalog items, in catalog order; the items
# added for themes (一件事) after them are applied for in joint cases
ITEM_WEIGHTS = (30, 20, 25, 15, 10)
_BAD_CODES: Mapping[str, tuple[Any, ...]] = {
    "cd_operation": ("X", "R", "N"),
    "applyer_type": ("7", "8", "0"),
    "id_type": ("112", "113", "990", "A01"),
    "handle_mode": ("6", "9", "0"),
    "node_name": ("审批", "复核", "核准", "归档"),
    "node_result": ("5", "9", "0"),
    "procedure_type": ("6", "7", "0"),
    "result_type": ("5", "9", "0"),
    "material_type": ("5", "0", "9"),
    "material_state": ("5", "0", "9"),
    "eval_level": (0, 6, 9),
    "channel": ("7", "8", "0"),
}
_LONG_TEXT = "（经申请人补充说明：材料中所载信息与原件一致，如有不实愿承担相应法律责任）"


FOOD_TASK = "食品经营许可(新办)"
BUSINESS_LICENSE_MATERIAL = "营业执照(电子证照免提交)"


def reuse_cases(
    holders: Sequence[Mapping[str, str]],
    *,
    today: date,
    seed: int = 0,
    calendar: WorkCalendar | None = None,
    catalog: Catalog | None = None,
) -> list[dict[str, Any]]:
    """Rows of follow-up cases (电子证照免提交, issue 18): for each holder of a 营业执照 issued earlier
    — ``{"license_id", "name", "code", "code_type", "region_code"}`` — a 食品经营许可(新办) case of its
    county accepted on the first working day from ``today``, its 营业执照 material a reference to that
    license (material_state 4, ``license_ref``) instead of a document. With three holders or more, the
    last case names the first holder's license: another person's, which the gateway holds
    (``license_ref.holder_mismatch``). Accept row first, then the materials; no result (open cases)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    cal = calendar or default_calendar()
    cat = catalog or load_catalog()
    accept = today
    while not cal.is_workday(accept):
        accept += timedelta(days=1)
    out: list[dict[str, Any]] = []
    for n, h in enumerate(holders, start=1):
        item = next(i for i in cat.items_in(h["region_code"]) if i.name == FOOD_TASK)
        dept = cat.department(item.department)
        project_no = f"{item.region_code}{accept:%y%m%d}9{n:07d}"
        ref = holders[0]["license_id"] if n == len(holders) >= 3 else h["license_id"]
        stamp = f"{accept.isoformat()}T09:{n % 60:02d}:00+08:00"

        def sync(
            values: dict[str, Any],
            *,
            project_no: str = project_no,
            stamp: str = stamp,
            region: str = item.region_code,
        ) -> dict[str, Any]:
            values.update(
                project_no=project_no,
                row_guid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                cd_batch=f"{region}-{accept:%Y%m%d}-09",
                cd_operation="I",
                cd_time=stamp,
                data_source=f"yc-{region}",
            )
            return values

        out.append(
            sync(
                {
                    "table": "up_pro_accept",
                    "task_code": item.task_code,
                    "task_version": item.task_version,
                    "task_name": item.name,
                    "region_code": item.region_code,
                    "org_code": dept.code,
                    "org_name": dept.name,
                    "applyer_type": "6",
                    "applyer_name": h["name"],
                    "applyer_id_type": h["code_type"],
                    "applyer_id": h["code"],
                    "apply_date": accept.isoformat(),
                    "accept_date": accept.isoformat(),
                    "promise_day": item.promise_day,
                    "anticipate_day": item.anticipate_day,
                    "promise_date": cal.promise_date(accept, item.promise_day).date.isoformat(),
                    "handle_mode": "1",
                }
            )
        )
        for m in item.materials:
            values: dict[str, Any] = {"table": "up_pro_material", "material_name": m}
            if m == BUSINESS_LICENSE_MATERIAL:
                values.update(material_type="4", material_state="4", license_ref=ref)
            else:
                values.update(material_type=rng.choice("123"), material_state="1")
            out.append(sync(values))
    return out


def defects_path(out: str | Path) -> Path:
    return Path(f"{out}.defects.jsonl")


def approvals_path(out: str | Path) -> Path:
    return Path(f"{out}.approvals.jsonl")


def held_children(defects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Project numbers whose (clean) child rows the quality layer will hold: those of defective
    accept rows, except duplicate re-sends (their original accept row is valid)."""
    return {
        str(d["project_no"])
        for d in defects
        if d.get("table") == "up_pro_accept" and d.get("rule_id") != R.ROW_DUPLICATE_GUID
    }


@dataclass(frozen=True)
class GeneratorOptions:
    seed: int = 0
    bad_ratio: float = 0.0
    start: date = date(2025, 1, 2)
    end: date = date(2026, 10, 30)
    child_first_ratio: float = 0.08
    late_ratio: float = 0.12
    pool_size: int = 12
    regions: tuple[str, ...] = ()  # jurisdictions to draw cases from (empty: every demo jurisdiction)
    deferred_ratio: float = 0.06  # of secondary materials accepted as missing (容缺, issue 18)
    joint_ratio: float = 0.0  # share of applications that are a theme (一件事): a joint case (联办件)

    def __post_init__(self) -> None:
        if not 0.0 <= self.bad_ratio <= 1.0:
            raise ValueError("bad_ratio must be within 0..1")
        if not 0.0 <= self.joint_ratio <= 1.0:
            raise ValueError("joint_ratio must be within 0..1")
        if self.end < self.start:
            raise ValueError("end must not be before start")
        unknown = [r for r in self.regions if r not in DEMO_JURISDICTIONS]
        if unknown:
            raise ValueError(f"regions {unknown} are not demo jurisdictions {DEMO_JURISDICTIONS}")


class Emitted(NamedTuple):
    kind: Literal["row", "defect", "approval"]
    data: dict[str, Any]


@dataclass(frozen=True)
class _Member:
    """What a member case of a joint case shares with its joint case, and its own window."""

    joint_no: str
    theme_code: str
    accept: date  # the joint acceptance
    start: date  # after the members it waits on (their promise dates)
    promise_day: int  # working days from acceptance to its promise date (its path)
    applicant: tuple[str, str, str, str]


@dataclass
class _Case:
    rows: deque[tuple[dict[str, Any], dict[str, Any] | None]]
    project_no: str


@dataclass
class GenerationSummary:
    rows: int = 0
    cases: int = 0
    bad_rows: int = 0
    approvals: int = 0
    late_approvals: int = 0
    by_table: Counter[str] = field(default_factory=Counter)
    defects_by_rule: Counter[str] = field(default_factory=Counter)
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "cases": self.cases,
            "bad_rows": self.bad_rows,
            "approvals": self.approvals,
            "late_approvals": self.late_approvals,
            "by_table": dict(sorted(self.by_table.items())),
            "defects_by_rule": dict(sorted(self.defects_by_rule.items())),
            "files": self.files,
        }


_COLUMNS: Mapping[str, tuple[str, ...]] = {name: spec.columns for name, spec in TABLES.items()}


def _ordered(table: str, values: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"table": table}
    get = values.get
    for col in _COLUMNS[table]:
        row[col] = get(col)
    return row


class CaseGenerator:
    """Builds cases and emits rows, defects and approvals; see the module docstring."""

    def __init__(
        self,
        options: GeneratorOptions | None = None,
        *,
        calendar: WorkCalendar | None = None,
        catalog: Catalog | None = None,
        license_types: Mapping[str, LicenseType] | None = None,
    ) -> None:
        self.o = options or GeneratorOptions()
        self.rng = random.Random(self.o.seed)  # noqa: S311 - synthetic data, not secrets
        # 容缺 materials and their supplies draw from their own stream, so adding them left every
        # other value of a seed as it was
        self.mrng = random.Random(self.o.seed ^ 0x5F18)  # noqa: S311
        self.cal = calendar or default_calendar()
        self.catalog = catalog or load_catalog()
        self.types = license_types or load_license_types()
        self._regions = self.o.regions or DEMO_JURISDICTIONS
        self._items = {r: self.catalog.items_in(r) for r in self._regions}
        self._depts = {d.code: d for d in self.catalog.departments}
        self._counter = 0
        self._serial: Counter[str] = Counter()
        self._span = (self.o.end - self.o.start).days

    # --- small helpers --------------------------------------------------------------------------

    def _guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _int(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi] (cheaper than randint; deterministic per seed)."""
        return lo + int(self.rng.random() * (hi - lo + 1))

    def _ts(self, d: date, lag_days: int = 0) -> str:
        secs = 8 * 3600 + int(self.rng.random() * 11 * 3600)  # 08:00 – 18:59
        day = d + timedelta(days=lag_days) if lag_days else d
        return f"{day.isoformat()}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}+08:00"

    def _person_name(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))

    def _county(self, region: str) -> str:
        """County-level code for people and businesses of a jurisdiction (达州市 → 通川区)."""
        return "511702" if region == "511700" else region

    def _resident_id(self, region: str) -> str:
        r = self.rng
        home = (
            self._county(region) if r.random() < 0.75 else r.choice(("510104", "511802", "451002", "430502"))
        )
        birth = date(1950, 1, 1) + timedelta(days=r.randrange(365 * 54))
        return make_resident_id(home, birth, r.randrange(1000))

    def _uscc(self, prefix: str, region: str) -> str:
        body = "MA" + "".join(self.rng.choice(USCC_ALPHABET) for _ in range(6))
        return make_uscc(prefix, self._county(region), body)

    def _address(self, region: str) -> str:
        r = self.rng
        return f"{region_full_name(region)}{r.choice(TOWNS[region])}{r.choice(ROADS)}{r.randint(1, 288)}号"

    def _workday_on_or_after(self, d: date) -> date:
        """First working day on or after ``d`` (weekends-only in a year no schedule covers)."""
        while True:
            try:
                if self.cal.is_workday(d):
                    return d
            except UnknownYearError:
                if d.weekday() < 5:
                    return d
            d += timedelta(days=1)

    def _add(self, d: date, n: int) -> date:
        return self.cal.add_workdays(d, n).date

    @contextmanager
    def _stream(self, rng: random.Random) -> Iterator[None]:
        """Draw from ``rng`` instead of the main stream inside the block."""
        main, self.rng = self.rng, rng
        try:
            yield
        finally:
            self.rng = main

    def _supply_date(self, accept: date, supply_by: date, result: date | None) -> date | None:
        """When a 容缺 material is supplied: by its date mostly, sometimes late (before the result of
        a finished case), and never for about half of the unfinished cases (a missed supply date)."""
        r = self.mrng
        if result is None and r.random() < 0.5:
            return None
        last = supply_by if result is None else min(supply_by, result)
        if result is not None and result > supply_by and r.random() < 0.2:
            return supply_by + timedelta(days=1 + int(r.random() * (result - supply_by).days))
        return accept + timedelta(days=int(r.random() * ((last - accept).days + 1)))

    def _sync(self, values: dict[str, Any], region: str, d: date) -> None:
        x = self.rng.random()
        lag = 1 if x < 0.25 else 0
        day = d + timedelta(days=1) if lag else d
        values["row_guid"] = self._guid()
        values["cd_batch"] = f"{region}-{day.year:04d}{day.month:02d}{day.day:02d}-0{1 + int(x * 16) % 4}"
        values["cd_operation"] = "U" if x > 0.97 else "I"
        values["cd_time"] = self._ts(d, lag)
        values["data_source"] = f"yc-{region}"

    @property
    def cases_built(self) -> int:
        return self._counter

    # --- one case ---------------------------------------------------------------------------------

    def _pick_item(self) -> ServiceItem:
        region = self.rng.choice(self._regions)
        items = self._items[region][: len(ITEM_WEIGHTS)]
        return self.rng.choices(items, weights=ITEM_WEIGHTS[: len(items)])[0]

    def _applicant(self, item: ServiceItem, region: str) -> tuple[str, str, str, str]:
        """(applyer_type, name, id_type, id)."""
        r = self.rng
        ids = item.applicant.id_types
        if ids == ("001",):
            atype = r.choice(item.applicant.applyer_types)
            word = r.choice(SHOP_WORDS)
            county = REGIONS[region]
            if atype == "2":
                return atype, f"{county}{word}{r.choice(COMPANY_KINDS)}", "001", self._uscc("91", region)
            return atype, f"{county}{word}{r.choice(SHOP_KINDS)[0]}", "001", self._uscc("92", region)
        name = self._person_name()
        id_type = "111" if len(ids) == 1 else r.choices(ids, weights=[92, 5, 3][: len(ids)])[0]
        if id_type == "111":
            return "1", name, id_type, self._resident_id(region)
        if id_type == "414":
            return "1", name, id_type, "E" + "".join(r.choice("0123456789") for _ in range(8))
        return "1", name, id_type, r.choice("HM") + "".join(r.choice("0123456789") for _ in range(8))

    def _cert_no(self, t: LicenseType, region: str, d: date) -> str:
        r = self.rng
        if t.key == "business_license":
            return self._uscc("92", region)
        if t.key == "food_business_license":
            self._serial[f"JY{region}"] += 1
            body = f"{r.choice('123')}{self._county(region)}{self._serial[f'JY{region}'] % 1_000_000:06d}"
            check = sum(int(c) * (i % 3 + 1) for i, c in enumerate(body)) % 10
            return f"JY{body}{check}"
        self._serial[f"BDC{region}{d.year}"] += 1
        abbr = self.catalog.province_abbreviation(region)
        return f"{abbr}({d.year}){REGIONS[region]}不动产权第{self._serial[f'BDC{region}{d.year}']:07d}号"

    def _approval_fields(
        self, item: ServiceItem, t: LicenseType, region: str, applicant: tuple[str, str, str, str]
    ) -> tuple[dict[str, str], list[dict[str, str]]]:
        r = self.rng
        county = REGIONS[region]
        f: dict[str, str] = {}
        holders: list[dict[str, str]] = []
        if t.key == "business_license":
            kind, scope = r.choice(SHOP_KINDS)
            f = {
                "KZ_MC": f"{county}{applicant[1][0]}记{kind}",
                "KZ_ZCXS": r.choice(("个人经营", "个人经营", "家庭经营")),
                "KZ_JYCS": self._address(region),
                "KZ_JYFW": scope,
            }
        elif t.key == "food_business_license":
            _, fmt, items = r.choice(FOOD_FORMATS)
            addr = self._address(region)
            f = {
                "KZ_FDDBR": self._person_name(),
                "KZ_ZS": addr,
                "KZ_JYCS": addr if r.random() < 0.7 else self._address(region),
                "KZ_ZTYT": fmt,
                "KZ_JYXM": items,
                "KZ_RCJDGLJG": f"{county}市场监督管理局{r.choice(TOWNS[region])}市场监督管理所",
            }
        else:
            holders = [{"CZZT": applicant[1], "CZZTDM": applicant[3], "CZZTDMLX": applicant[2]}]
            for _ in range(r.choice((0, 0, 1, 1, 1, 2))):
                holders.append(
                    {"CZZT": self._person_name(), "CZZTDM": self._resident_id(region), "CZZTDMLX": "111"}
                )
            land = r.uniform(800, 12000)
            house = r.uniform(45, 160)
            start_year = r.randint(1998, 2020)
            unit = (  # 不动产单元号: 6 region + 6 cadastral zone + GB + 5 parcel + F + 8 building unit
                f"{self._county(region)}{r.randint(1, 20):03d}{r.randint(1, 20):03d}"
                f"GB{r.randint(1, 99999):05d}F{r.randint(1, 99):04d}{r.randint(1, 9999):04d}"
            )
            room = f"{r.randint(1, 30)}栋{r.randint(1, 4)}单元{r.randint(1, 30)}0{r.randint(1, 4)}号"
            f = {
                "KZ_QLR": "、".join(h["CZZT"] for h in holders),
                "KZ_GYQK": "单独所有" if len(holders) == 1 else "共同共有",
                "KZ_ZL": f"{self._address(region)}{room}",
                "KZ_BDCDYH": unit,
                "KZ_QLLX": "国有建设用地使用权/房屋所有权",
                "KZ_QLXZ": "出让/市场化商品房",
                "KZ_YT": "城镇住宅用地/住宅",
                "KZ_MJ": f"共有宗地面积：{land:.2f}㎡/房屋建筑面积：{house:.2f}㎡",
                "KZ_SYQX": f"国有建设用地使用权 {start_year}年01月01日起 {start_year + 70}年12月31日止",
                "KZ_QLQTZK": f"专有建筑面积：{house * 0.86:.2f}㎡，分摊建筑面积：{house * 0.14:.2f}㎡",
            }
        wanted = set(item.approval_keys) - {"holders"}
        return {k: v for k, v in f.items() if k in wanted}, holders

    def _build_application(self, limit: int) -> list[_Case]:
        """One application: a single case, or (``joint_ratio``) every member case of a theme."""
        r = self.rng
        if not self.o.joint_ratio or r.random() >= self.o.joint_ratio:
            return [self._build_case(limit)]
        themes = [t for region in self._regions for t in self.catalog.themes_in(region)]
        if not themes:
            return [self._build_case(limit)]
        theme = r.choice(themes)
        items = self.catalog.theme_items(theme)
        accept = self._workday_on_or_after(self.o.start + timedelta(days=r.randrange(self._span + 1)))
        plan = plan_joint(theme, self.catalog, accept, self.cal)
        applicant = self._applicant(items[0], theme.region_code)
        joint_no = f"LB{theme.region_code}{accept:%y%m%d}{self._counter + 1:08d}"
        cases: list[_Case] = []
        for item in items:
            m = plan.member(item.task_code)
            member = _Member(joint_no, theme.theme_code, accept, m.start, m.path_days, applicant)
            cases.append(self._build_case(max(1, limit - sum(len(c.rows) for c in cases)), item, member))
        return cases

    def _build_case(
        self, limit: int, item: ServiceItem | None = None, member: _Member | None = None
    ) -> _Case:
        r = self.rng
        o = self.o
        item = item or self._pick_item()
        region = item.region_code
        dept: Department = self._depts[item.department]
        self._counter += 1
        accept = (
            member.accept
            if member is not None
            else self._workday_on_or_after(o.start + timedelta(days=r.randrange(self._span + 1)))
        )
        handle_mode = r.choices(("1", "2", "5", "3", "4"), weights=(60, 25, 8, 4, 3))[0]
        back = 0 if handle_mode != "2" and r.random() < 0.85 else r.choice((0, 1, 1, 2, 3, 5, 9))
        apply = accept - timedelta(days=back)
        project_no = f"{region}{accept:%y%m%d}{self._counter:08d}"
        applicant = member.applicant if member is not None else self._applicant(item, region)
        # a member that waits on others is promised from the joint acceptance over its path (contracts.joint)
        promise_day = member.promise_day if member is not None else item.promise_day
        promise = self.cal.promise_date(accept, promise_day).date
        out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

        def add(table: str, values: dict[str, Any], d: date, approval: dict[str, Any] | None = None) -> None:
            values["project_no"] = project_no
            self._sync(values, region, d)
            out.append((_ordered(table, values), approval))

        add(
            "up_pro_accept",
            {
                "task_code": item.task_code,
                "task_version": item.task_version,
                "task_name": item.name,
                "region_code": region,
                "org_code": dept.code,
                "org_name": dept.name,
                "applyer_type": applicant[0],
                "applyer_name": applicant[1],
                "applyer_id_type": applicant[2],
                "applyer_id": applicant[3],
                "apply_date": apply.isoformat(),
                "accept_date": accept.isoformat(),
                "promise_day": promise_day,
                "anticipate_day": max(item.anticipate_day, promise_day),
                "promise_date": promise.isoformat(),
                "handle_mode": handle_mode,
                "joint_no": member.joint_no if member is not None else None,
                "theme_code": member.theme_code if member is not None else None,
            },
            accept,
        )
        deferred: list[tuple[str, str, date]] = []  # (name, material_type, supply_by): 容缺 (issue 18)
        for m in item.materials:
            if r.random() < 0.9 or m == item.materials[0]:
                mtype = "4" if "免提交" in m else r.choices("123", weights=(40, 35, 25))[0]
                if mtype != "4" and m not in item.primary_materials and self.mrng.random() < o.deferred_ratio:
                    supply_by = self._add(accept, 1 + int(self.mrng.random() * max(1, item.promise_day)))
                    deferred.append((m, mtype, supply_by))
                    with self._stream(self.mrng):
                        add(
                            "up_pro_material",
                            {
                                "material_name": m,
                                "material_type": mtype,
                                "material_state": "2",
                                "supply_by": supply_by.isoformat(),
                            },
                            accept,
                        )
                    continue
                add("up_pro_material", {"material_name": m, "material_type": mtype}, accept)
        periods: list[tuple[date, date]] = []
        ptypes: list[str] = []
        if item.special_procedures and r.random() < 0.2:
            for _ in range(r.choice((1, 1, 1, 2))):
                start = self._add(accept, r.randint(1, max(1, item.promise_day)))
                end = self._add(start, r.randint(0, 4))
                ptype = r.choice(item.special_procedures)
                periods.append((start, end))
                ptypes.append(ptype)
                add(
                    "up_pro_special_procedure",
                    {"procedure_type": ptype, "start_date": start.isoformat(), "end_date": end.isoformat()},
                    start,
                )
        deadline = self.cal.extended_deadline(promise, periods).date
        finished = r.random() < 0.9
        result_type = r.choices("1234", weights=(90, 4, 4, 2))[0]
        if member is not None:  # a member finishes inside its own window, after what it waited on
            window = self.cal.workdays_in(member.start + timedelta(days=1), deadline).count
            result_date = self._add(member.start, r.randint(min(1, window), max(1, window)))
        elif item.promise_day == 0:
            result_date = accept
        else:
            span = self.cal.workdays_in(accept + timedelta(days=1), deadline).count
            k = r.randint(1, max(1, span)) if r.random() < 0.94 else span + r.randint(1, 5)
            result_date = self._add(accept, k)
        nodes = ["受理", "审查"]
        if "4" in ptypes:
            nodes.append("踏勘")
        nodes += ["审核", "决定", "办结"]
        if handle_mode == "4" or r.random() < 0.3:
            nodes.append("送达")
        if not finished:
            nodes = nodes[: r.choice((1, 2))]
        gap = max(0, (result_date - accept).days)
        for i, node in enumerate(nodes):
            d = (
                accept
                if i == 0
                else min(result_date, accept + timedelta(days=gap * i // max(1, len(nodes) - 1)))
            )
            node_result = "1"
            if node == "决定" and result_type == "2":
                node_result = "2"
            elif node == "审查" and r.random() < 0.05:
                node_result = "3"
            opinion = r.choice(OPINIONS[node]) if r.random() < 0.85 else None
            if node_result == "2":
                opinion = "不符合法定条件，不予许可。"
            add(
                "up_pro_process",
                {
                    "node_name": node,
                    "handler": self._person_name(),
                    "handle_date": self._ts(d),
                    "node_result": node_result,
                    "opinion": opinion,
                },
                d,
            )
        if finished:
            t = self.types.get(item.license.type_code) if item.license else None
            approval: dict[str, Any] | None = None
            cert_name = cert_no = None
            if t is not None and item.license is not None and result_type == "1":
                cert_name = t.name
                cert_no = self._cert_no(t, region, result_date)
                fields, holders = self._approval_fields(item, t, region, applicant)
                late = r.random() < o.late_ratio
                sent = result_date + timedelta(days=r.randint(5, 30) if late else r.choice((0, 0, 1)))
                approval = {
                    "approval_id": f"AP{project_no}",
                    "project_no": project_no,
                    "task_code": item.task_code,
                    "type_code": t.type_code,
                    "org_code": dept.code,
                    "approved_date": result_date.isoformat(),
                    "sent_at": self._ts(sent),
                    "fields": fields,
                    "holders": holders,
                    "valid_from": None,
                    "valid_until": None,
                    "late": late,
                }
            add(
                "up_pro_result",
                {
                    "result_date": result_date.isoformat(),
                    "result_type": result_type,
                    "result_cert_name": cert_name,
                    "result_cert_no": cert_no,
                },
                result_date,
                approval,
            )
            if r.random() < 0.55:
                eval_date = result_date + timedelta(days=r.choice((0, 0, 1, 2, 3)))
                add(
                    "up_pro_evaluation",
                    {
                        "eval_level": r.choices((5, 4, 3, 2, 1), weights=(80, 12, 5, 2, 1))[0],
                        "eval_date": eval_date.isoformat(),
                        "channel": r.choices("123456", weights=(20, 35, 30, 5, 5, 5))[0],
                    },
                    eval_date,
                )
        with self._stream(self.mrng):
            for name, mtype, supply_by in deferred:
                supplied = self._supply_date(accept, supply_by, result_date if finished else None)
                if supplied is not None:
                    add(
                        "up_pro_material",
                        {
                            "material_name": name,
                            "material_type": mtype,
                            "material_state": "3",
                            "supplied_date": supplied.isoformat(),
                        },
                        supplied,
                    )
                    out[-1][0]["cd_operation"] = "U"  # a supply updates the material (README, 容缺受理)
        # children before their parent sometimes; keep the accept row first in a truncated case
        if len(out) > limit:
            del out[limit:]
        elif len(out) > 2 and r.random() < o.child_first_ratio:
            accept_row = out.pop(0)
            out.insert(r.randint(1, min(3, len(out))), accept_row)
        return _Case(deque(out), project_no)

    # --- defects ------------------------------------------------------------------------------------

    def _mutate(self, row: dict[str, Any], kind: str) -> tuple[str, str | None]:
        """Plant one defect of ``kind`` in ``row`` (in place); returns (rule_id, field)."""
        r = self.rng
        table = row["table"]
        spec = TABLES[table]
        if kind == "bad_check_digit":
            if row["applyer_id_type"] in ("111", "001") and r.random() < 0.7:
                col, alphabet = (
                    "applyer_id",
                    RESIDENT_ID_CHECK_CHARS if row["applyer_id_type"] == "111" else USCC_ALPHABET,
                )
                rule_id = R.ACCEPT_APPLYER_ID_CHECK_DIGIT
            else:
                col, alphabet, rule_id = "org_code", USCC_ALPHABET, R.ACCEPT_ORG_CODE_USCC
            value = row[col]
            row[col] = value[:-1] + r.choice([c for c in alphabet if c != value[-1]])
            return rule_id, col
        if kind == "accept_before_apply":
            row["apply_date"] = (
                date.fromisoformat(row["accept_date"]) + timedelta(days=r.randint(1, 7))
            ).isoformat()
            return R.ACCEPT_DATE_ORDER, "apply_date"
        if kind == "unknown_region":
            while True:
                code = f"{row['region_code'][:2]}{r.randint(90, 99)}{r.randint(1, 99):02d}"
                if code not in REGIONS:
                    break
            row["region_code"] = code
            return R.ACCEPT_REGION_CODE, "region_code"
        if kind == "promise_day_beyond":
            pd = row["anticipate_day"] + r.randint(1, 10)
            row["promise_day"] = pd
            row["promise_date"] = self.cal.promise_date(
                date.fromisoformat(row["accept_date"]), pd
            ).date.isoformat()
            return R.ACCEPT_PROMISE_DAY_ORDER, "promise_day"
        if kind == "missing_required":
            col = r.choice(spec.required_columns)
            style = r.randrange(3)
            if style == 0:
                del row[col]
            elif style == 1 or spec.field(col).type == "integer":
                row[col] = None
            else:
                row[col] = ""
            return R.FIELD_REQUIRED, col
        if kind == "malformed_date":
            dates = [f.name for f in spec.fields if f.type == "date" and row.get(f.name)]
            if dates and r.random() < 0.85:
                col = r.choice(dates)
                d = date.fromisoformat(row[col])
                row[col] = r.choice(
                    (
                        f"{d:%Y/%m/%d}",
                        f"{d:%Y%m%d}",
                        f"{d.year}-{d.month}-{d.day}" if d.month < 10 or d.day < 10 else f"{d:%d-%m-%Y}",
                        f"{d.year}-02-30",
                        f"{d:%d/%m/%Y}",
                    )
                )
                return R.FIELD_DATE_FORMAT, col
            stamps = [f.name for f in spec.fields if f.type == "timestamp" and row.get(f.name)]
            col = r.choice(stamps)
            ts = row[col]
            row[col] = r.choice(
                (ts[:19].replace("T", " "), ts[:19], ts[:10].replace("-", "/") + " " + ts[11:16])
            )
            return R.FIELD_TIMESTAMP_FORMAT, col
        if kind == "over_long":
            cols = [
                f.name
                for f in spec.fields
                if f.type == "string"
                and not f.code_list
                and f.length is not None
                and f.length >= 20
                and isinstance(row.get(f.name), str)
                and row[f.name]
                and f.name not in ("row_guid", "cd_batch", "project_no", "task_code")
            ]
            col = r.choice(cols)
            length = spec.field(col).length or 0
            value = row[col]
            while len(value) <= length:
                value += _LONG_TEXT
            row[col] = value[: length + r.randint(1, 30)]
            return R.FIELD_MAX_LENGTH, col
        if kind == "wrong_code":
            cols = [f.name for f in spec.fields if f.code_list and row.get(f.name) not in (None, "")]
            col = r.choice(cols)
            code_list = spec.field(col).code_list or ""
            choices = [c for c in _BAD_CODES[code_list] if not CODE_LISTS[code_list].contains(c)]
            row[col] = r.choice(choices)
            return R.FIELD_CODE_LIST, col
        raise ValueError(f"unknown defect kind {kind!r}")

    # --- the stream -----------------------------------------------------------------------------------

    def emit(self, count: int) -> Iterator[Emitted]:
        """Exactly ``count`` rows (and their defects and approvals), in file order."""
        r = self.rng
        o = self.o
        pool: list[_Case] = []
        pending = 0
        emitted = 0
        recent: deque[dict[str, Any]] = deque(maxlen=512)
        late: deque[tuple[int, dict[str, Any]]] = deque()
        approvals_seen = 0
        while emitted < count:
            while len(pool) < o.pool_size and emitted + pending < count:
                for case in self._build_application(count - emitted - pending):
                    pool.append(case)  # a joint case's members go out interleaved, in any order
                    pending += len(case.rows)
            i = r.randrange(len(pool))
            case = pool[i]
            row, approval = case.rows.popleft()
            pending -= 1
            kind: str | None = None
            if o.bad_ratio and r.random() < o.bad_ratio:
                kinds = DEFECT_KINDS if row["table"] == "up_pro_accept" else _CHILD_KINDS
                kind = r.choice(kinds)
                if kind == "duplicate_guid" and (not recent or emitted + pending + 2 > count):
                    kind = r.choice([k for k in kinds if k != "duplicate_guid"])
            if kind == "duplicate_guid":
                case.rows.appendleft((row, approval))  # the current row goes out later
                pending += 1
                original = r.choice(recent)
                copy = dict(original)
                resend = date.fromisoformat(str(copy["cd_time"])[:10]) + timedelta(days=r.randint(1, 3))
                copy["cd_batch"] = f"{str(copy['cd_batch'])[:6]}-{resend:%Y%m%d}-R{r.randint(1, 9)}"
                copy["cd_time"] = self._ts(resend)
                emitted += 1
                yield Emitted("row", copy)
                yield Emitted(
                    "defect",
                    {
                        "line": emitted,
                        "row_guid": copy["row_guid"],
                        "table": copy["table"],
                        "rule_id": R.ROW_DUPLICATE_GUID,
                        "kind": kind,
                        "field": "row_guid",
                        "project_no": copy["project_no"],
                    },
                )
                continue
            if not case.rows:
                pool[i] = pool[-1]
                pool.pop()
            emitted += 1
            if kind is None:
                recent.append(row)
                yield Emitted("row", row)
            else:
                bad = dict(row)
                rule_id, col = self._mutate(bad, kind)
                yield Emitted("row", bad)
                yield Emitted(
                    "defect",
                    {
                        "line": emitted,
                        "row_guid": bad.get("row_guid") if isinstance(bad.get("row_guid"), str) else None,
                        "table": row["table"],
                        "rule_id": rule_id,
                        "kind": kind,
                        "field": col,
                        "project_no": row["project_no"],
                    },
                )
            if approval is not None:
                approvals_seen += 1
                if approval["late"]:
                    late.append((approvals_seen + r.randint(5, 60), approval))
                else:
                    yield Emitted("approval", approval)
                while late and late[0][0] <= approvals_seen:
                    yield Emitted("approval", late.popleft()[1])
        while late:
            yield Emitted("approval", late.popleft()[1])


def batch_paths(out: str | Path, batches: int) -> list[Path]:
    """The case files written for ``batches`` > 1: ``cases.jsonl`` → ``cases.b001.jsonl`` …"""
    p = Path(out)
    return [p.with_name(f"{p.stem}.b{i:03d}{p.suffix}") for i in range(1, batches + 1)]


def write_case_files(
    out: str | Path,
    count: int,
    *,
    seed: int = 0,
    bad_ratio: float = 0.0,
    batches: int = 1,
    calendar: WorkCalendar | None = None,
    options: GeneratorOptions | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 50_000,
) -> GenerationSummary:
    """Write ``out``, ``out.defects.jsonl`` and ``out.approvals.jsonl``; see the module docstring.

    With ``batches`` K > 1 the rows are cut into K consecutive files (:func:`batch_paths`) instead
    of ``out``, as a flaky township link would deliver them: cases that straddle a cut have rows in
    two files, some children in a file before their parent's. Defect lines then carry ``"file"``
    (the batch file's name) and ``"line"`` is the line within it."""
    if count < 1:
        raise ValueError("count must be >= 1")
    if not 1 <= batches <= min(count, 999):
        raise ValueError("batches must be within 1..min(count, 999)")
    opts = options or GeneratorOptions(seed=seed, bad_ratio=bad_ratio)
    gen = CaseGenerator(opts, calendar=calendar)
    out_p = Path(out)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    targets = [out_p] if batches == 1 else batch_paths(out_p, batches)
    bounds = [count * (i + 1) // batches for i in range(batches)]  # last global line of each file
    summary = GenerationSummary()
    summary.files = {
        "cases": str(out_p) if batches == 1 else ",".join(str(t) for t in targets),
        "defects": str(defects_path(out_p)),
        "approvals": str(approvals_path(out_p)),
    }
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    index = 0
    first_line = 0  # global line before the current file's first line
    rows_f = targets[0].open("w", encoding="utf-8", buffering=1 << 20)
    try:
        with (
            defects_path(out_p).open("w", encoding="utf-8") as defects_f,
            approvals_path(out_p).open("w", encoding="utf-8") as approvals_f,
        ):
            for kind, data in gen.emit(count):
                if kind == "row":
                    if summary.rows == bounds[index]:
                        rows_f.close()
                        first_line = bounds[index]
                        index += 1
                        rows_f = targets[index].open("w", encoding="utf-8", buffering=1 << 20)
                    rows_f.write(dumps(data))
                    rows_f.write("\n")
                    summary.rows += 1
                    summary.by_table[data["table"]] += 1
                    if progress is not None and summary.rows % progress_every == 0:
                        progress(summary.rows)
                elif kind == "defect":
                    defect = data
                    if batches > 1:
                        defect = {**data, "line": data["line"] - first_line, "file": targets[index].name}
                    defects_f.write(dumps(defect))
                    defects_f.write("\n")
                    summary.bad_rows += 1
                    summary.defects_by_rule[data["rule_id"]] += 1
                else:
                    approvals_f.write(dumps(data))
                    approvals_f.write("\n")
                    summary.approvals += 1
                    summary.late_approvals += bool(data["late"])
    finally:
        rows_f.close()
    summary.cases = gen.cases_built
    if progress is not None:
        progress(summary.rows)
    return summary
