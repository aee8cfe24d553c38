"""Deterministic generated case data for the sandbox peers, addressable by index.

Row ``i`` of a source is a pure function of ``(seed, source, i)``: the county feed serves any page
without holding the data set in memory, and tests know exactly which rows exist. Rows come in
cases of :data:`ROWS_PER_CASE` (accept, material, two process steps, then a result, a special
procedure or an evaluation); ``cd_time`` grows with the index, so the index order is each case's
``cd_time`` order. Values satisfy the field table (lengths, code lists, check digits).

The case *files* of ``tongban cases generate`` (whole realistic cases with planted defects) come from
:mod:`sandbox.generator`; this module serves the peers' paged feeds.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from typing import Any

from contracts.validators import make_resident_id, make_uscc

ROWS_PER_CASE = 5
_TZ = dt.timezone(dt.timedelta(hours=8))
_BASE = dt.datetime(2026, 3, 2, 8, 30, tzinfo=_TZ)
_NS = uuid.UUID("6f1c1d3e-9a51-4b7e-9f42-3c1d2b7a0e11")
_TASKS = (
    ("11510129008589710X001", "企业设立登记"),
    ("11510129008589710X002", "个体工商户注册登记"),
    ("11510129008589710X003", "不动产登记"),
)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"


def row_guid(seed: int, source: str, index: int) -> str:
    return str(uuid.uuid5(_NS, f"{seed}:{source}:{index}"))


def project_no(source: str, case: int) -> str:
    return f"{source[:6]}{case:012d}"


def _org(region: str, case: int) -> str:
    return make_uscc("11", region, f"{(case % 97) + 10000000:08d}")


def case_row(seed: int, source: str, index: int, *, region: str = "510129") -> tuple[str, dict[str, Any]]:
    """(table, row) of row ``index`` of ``source``."""
    case, pos = divmod(index, ROWS_PER_CASE)
    rng = random.Random(f"{seed}:{source}:{case}")  # noqa: S311 - test data
    accept = _BASE + dt.timedelta(minutes=case * 7)
    cd_time = (_BASE + dt.timedelta(seconds=index * 13)).isoformat()
    sync = {
        "row_guid": row_guid(seed, source, index),
        "cd_batch": f"B{case // 200:06d}",
        "cd_operation": "I",
        "cd_time": cd_time,
        "data_source": source,
    }
    pno = project_no(source, case)
    task_code, task_name = _TASKS[case % len(_TASKS)]
    if pos == 0:
        birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(20000))
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
        promise_day = rng.choice((3, 5, 10))
        return "up_pro_accept", {
            "project_no": pno,
            "task_code": task_code,
            "task_version": "1.0",
            "task_name": task_name,
            "region_code": region,
            "org_code": _org(region, case),
            "org_name": "县行政审批局",
            "applyer_type": "1",
            "applyer_name": name,
            "applyer_id_type": "111",
            "applyer_id": make_resident_id(region, birth, rng.randrange(1, 999)),
            "apply_date": accept.date().isoformat(),
            "accept_date": accept.date().isoformat(),
            "promise_day": promise_day,
            "anticipate_day": promise_day + 10,
            "promise_date": (accept.date() + dt.timedelta(days=promise_day + 2)).isoformat(),
            "handle_mode": "1",
            **sync,
        }
    if pos == 1:
        return "up_pro_material", {
            "project_no": pno,
            "material_name": rng.choice(("身份证明", "申请书", "营业执照", "不动产权属证明")),
            "material_type": rng.choice(("1", "2", "3", "4")),
            **sync,
        }
    if pos in (2, 3):
        return "up_pro_process", {
            "project_no": pno,
            "node_name": "审查" if pos == 2 else "决定",
            "handler": rng.choice(_SURNAMES) + rng.choice(_GIVEN),
            "handle_date": (accept + dt.timedelta(hours=pos * 5)).isoformat(),
            "node_result": "1",
            "opinion": "同意" if rng.random() < 0.7 else None,
            **sync,
        }
    kind = case % 3
    if kind == 0:
        return "up_pro_result", {
            "project_no": pno,
            "result_date": (accept.date() + dt.timedelta(days=2)).isoformat(),
            "result_type": "1",
            "result_cert_name": task_name + "证",
            "result_cert_no": f"ZS{case:010d}",
            **sync,
        }
    if kind == 1:
        start = accept.date() + dt.timedelta(days=1)
        return "up_pro_special_procedure", {
            "project_no": pno,
            "procedure_type": rng.choice(("1", "2", "3", "4")),
            "start_date": start.isoformat(),
            "end_date": (start + dt.timedelta(days=1)).isoformat(),
            **sync,
        }
    return "up_pro_evaluation", {
        "project_no": pno,
        "eval_level": rng.choice((5, 5, 4, 3)),
        "eval_date": (accept.date() + dt.timedelta(days=3)).isoformat(),
        "channel": rng.choice(("1", "2", "3")),
        **sync,
    }


def case_rows(
    seed: int, source: str, count: int, start: int = 0, **kw: Any
) -> Iterator[tuple[str, dict[str, Any]]]:
    for i in range(start, start + count):
        yield case_row(seed, source, i, **kw)


def approval(seed: int, source: str, case: int) -> dict[str, Any]:
    """The department's approval data for a finished case (face fields of the license)."""
    rng = random.Random(f"approval:{seed}:{source}:{case}")  # noqa: S311 - test data
    accept = _BASE + dt.timedelta(minutes=case * 7)
    task_code, _ = _TASKS[case % len(_TASKS)]
    approved = accept.date() + dt.timedelta(days=2)
    return {
        "approval_id": f"AP-{source}-{case:010d}",
        "project_no": project_no(source, case),
        "task_code": task_code,
        "type_code": task_code,
        "org_code": _org("510129", case),
        "approved_date": approved.isoformat(),
        "sent_at": (accept + dt.timedelta(days=2, hours=3)).isoformat(),
        "fields": {
            "KZ_JYFW": rng.choice(("餐饮服务", "零售", "技术咨询")),
            "KZ_ZS": "四川省成都市大邑县晋原街道",
        },
        "holders": [],
        "valid_from": approved.isoformat(),
        "valid_until": None,
    }
