"""The vectorized kernels agree with the scalar contracts (validators, calendar, models), and the
generated suites cover every rule of the field table."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import rules as R
from contracts import validators as V
from contracts.calendar import default_calendar
from contracts.fields import TABLES
from contracts.models import strict_date, strict_timestamp
from quality import vectorized as K
from quality.errors import SuiteError
from quality.suites import GATE_RULES, IMPLEMENTED_RULES, plan_all, plan_table, suite_hash

USCC_CHARS = V.USCC_ALPHABET + "IOSVZ-x中 "


def _arr(values: Sequence[object]) -> np.ndarray:
    return np.array(values, dtype=object)


def _mutations(valid: list[str], alphabet: str, rng: random.Random, n: int = 400) -> list[str]:
    out = list(valid)
    for _ in range(n):
        s = list(rng.choice(valid))
        op = rng.random()
        i = rng.randrange(len(s))
        if op < 0.6:
            s[i] = rng.choice(alphabet)
        elif op < 0.8:
            del s[i]
        else:
            s.insert(i, rng.choice(alphabet))
        out.append("".join(s))
    return out


def test_uscc_kernel_matches_validator() -> None:
    rng = random.Random(1)
    valid = ["91350100M000100Y43", "11510129008589710X", "91510129MA6CXXXX97"]
    valid += [
        V.make_uscc("91", "510129", "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8)))
        for _ in range(50)
    ]
    values = [
        *_mutations(valid, USCC_CHARS, rng),
        "115101290085897124",
        "",
        "９１３５０１００Ｍ０００１００Ｙ４３",
    ]
    got = K.uscc_ok(_arr(values))
    assert got.tolist() == [V.is_valid_uscc(v) for v in values]


def test_resident_id_and_holder_kernels_match_validator() -> None:
    rng = random.Random(2)
    valid = ["11010519491231002X", "510129199001011238"] + [
        V.make_resident_id(
            "510129", date(1950, 1, 1) + timedelta(days=rng.randrange(25000)), rng.randrange(1000)
        )
        for _ in range(50)
    ]
    ids = [*_mutations(valid, "0123456789Xx", rng), "51012919000229123X", "510129190002291231"]
    uscc = _mutations(["91350100M000100Y43", "11510129008589710X"], USCC_CHARS, rng, 100)
    other = ["E12345678", "H12345678", "M1234567801", "1234567890", "ABC", "x" * 51, " ", "A" * 15]
    pairs = [("111", v) for v in ids] + [("001", v) for v in uscc]
    pairs += [(t, v) for t in ("414", "516", "511", "553", "999") for v in other]
    types = [t for t, _ in pairs]
    values = [v for _, v in pairs]
    fmt, chk = K.holder_id_checks(_arr(types), _arr(values))
    for t, v, f, c in zip(types, values, fmt.tolist(), chk.tolist(), strict=True):
        problem = V.holder_id_problem(t, v)
        expected_check = problem not in ("check_digit", "org_code")
        expected_format = problem is None or not expected_check
        assert (f, c) == (expected_format, expected_check), (t, v, problem)


def test_other_id_patterns_are_the_contracts_patterns() -> None:
    assert set(K.OTHER_ID_PATTERNS) == set(V._OTHER_ID_PATTERNS)


@given(st.text(alphabet="0123456789-T:+Z.x ", min_size=0, max_size=34))
@settings(max_examples=400, deadline=None)
def test_date_and_timestamp_kernels_match_models(text: str) -> None:
    def scalar(fn: object, v: str) -> bool:
        try:
            fn(v)  # type: ignore[operator]
        except ValueError:
            return False
        return True

    def real_date(v: str) -> bool:
        try:
            date.fromisoformat(v)
        except ValueError:
            return False
        return scalar(strict_date, v)

    assert K.date_ok(_arr([text]))[0] == real_date(text)
    ts_ok = scalar(strict_timestamp, text)
    if ts_ok:  # the shape passes; the model then needs a real date and time
        from datetime import datetime

        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            ts_ok = False
    assert K.timestamp_ok(_arr([text]))[0] == ts_ok, text


def test_date_kernel_on_valid_shapes() -> None:
    rng = random.Random(3)
    values = [
        f"{rng.randrange(0, 10000):04d}-{rng.randrange(0, 14):02d}-{rng.randrange(0, 33):02d}"
        for _ in range(3000)
    ]
    expected = []
    for v in values:
        try:
            date.fromisoformat(v)
            expected.append(True)
        except ValueError:
            expected.append(False)
    assert K.date_ok(_arr(values)).tolist() == expected


def test_promise_dates_match_the_calendar() -> None:
    cal = default_calendar()
    rng = random.Random(4)
    accept = [date(2025, 1, 1) + timedelta(days=rng.randrange(720)) for _ in range(600)]
    days = [rng.randrange(0, 40) for _ in accept]
    expected, provisional, computable = K.promise_dates(
        _arr([a.isoformat() for a in accept]), _arr(days), cal
    )
    assert computable.all()
    for a, n, e, p in zip(accept, days, expected.tolist(), provisional.tolist(), strict=True):
        ref = cal.promise_date(a, n)
        assert (e, p) == (ref.date, ref.provisional), (a, n)
    # DOMAIN.md §6 vectors
    vectors = [
        ("2026-02-13", 5, "2026-02-27"),
        ("2026-09-30", 3, "2026-10-10"),
        ("2026-04-30", 1, "2026-05-06"),
        ("2026-02-14", 1, "2026-02-24"),
        ("2026-03-07", 1, "2026-03-09"),
        ("2026-10-01", 3, "2026-10-10"),
        ("2026-12-24", 5, "2026-12-31"),
    ]
    e, p, _ = K.promise_dates(_arr([v[0] for v in vectors]), _arr([v[1] for v in vectors]), cal)
    assert [str(x) for x in e] == [v[2] for v in vectors] and not p.any()
    _ok, prov = K.promise_date_ok(_arr(["2026-12-28"]), _arr([5]), _arr(["2027-01-05"]), cal)
    assert prov.tolist() == [True]


def test_field_kernels_on_json_types() -> None:
    values = _arr(["a", "", "  ", None, float("nan"), 5, True, 2.5, ["x"], {"a": 1}])
    assert K.present(values).tolist() == [True, False, False, False, False, True, True, True, True, True]
    assert K.json_type_ok(values, "string").tolist() == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    ints = _arr([1, 0, -1, 10000, True, "3", None, 2**70])
    assert K.json_type_ok(ints, "integer").tolist() == [True, True, True, True, False, False, True, True]
    assert K.range_ok(ints, 0, 9999).tolist() == [True, True, False, False, True, True, True, False]
    assert K.code_list_ok(_arr([1, 5, 6, "1", True]), ["1", "5"], "integer").tolist() == [
        True,
        True,
        False,
        True,
        True,
    ]
    assert K.max_length_ok(_arr(["中文字", "abcd", 12345]), 3).tolist() == [True, False, True]
    assert K.key_present(_arr([None, float("nan"), 0])).tolist() == [True, False, True]


def test_suites_cover_every_rule_of_the_field_table() -> None:
    plans = plan_all()
    assert set(plans) == set(TABLES)
    for rule_id, rule in R.RULES.items():
        assert rule_id in IMPLEMENTED_RULES | GATE_RULES, rule_id
        del rule
    for name, table in TABLES.items():
        planned = {(p.rule_id, f) for p in plans[name] for f in p.fields}
        for f in table.fields:
            for rule_id in f.rule_ids:
                if rule_id in GATE_RULES:
                    continue
                applies = "*" in R.RULES[rule_id].tables or name in R.RULES[rule_id].tables
                if applies:
                    assert (rule_id, f.name) in planned, (name, f.name, rule_id)
        assert all(p.meta["rule_id"] in R.RULES for p in plans[name])
    assert suite_hash(plans) == suite_hash(plan_all())


def test_a_rule_without_implementation_fails_suite_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    import quality.suites as S

    table = TABLES["up_pro_material"]
    new_rule = R.Rule(
        "material.name.new_rule", "nobody implemented it", "quarantine", "field", ("up_pro_material",)
    )
    monkeypatch.setattr(R, "RULES", {**R.RULES, new_rule.id: new_rule})
    last = table.fields[-1]
    patched = replace(table, fields=(*table.fields[:-1], replace(last, rules=(new_rule.id,))))
    monkeypatch.setattr(S, "TABLES", {**TABLES, "up_pro_material": patched})
    with pytest.raises(SuiteError, match="no expectation builder"):
        plan_table("up_pro_material")
    # a new column is covered by the generic field rules without any change here
    extra = replace(last, name="material_note", rules=())
    monkeypatch.setattr(
        S, "TABLES", {**TABLES, "up_pro_material": replace(table, fields=(*table.fields, extra))}
    )
    planned = {(p.rule_id, f) for p in plan_table("up_pro_material") for f in p.fields}
    assert {(r, "material_note") for r in extra.rule_ids} <= planned
