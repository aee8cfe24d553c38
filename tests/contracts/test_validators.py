"""DOMAIN.md §2 vectors and property tests for the code validators."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import validators as v
from contracts.errors import InvalidCode
from contracts.regions import DEMO_JURISDICTIONS, region_full_name

LICENSE_VECTOR = "1.2.156.3005.2.11510129008589710X001.11510129008589710X.2026000001.001.3"


@pytest.mark.parametrize("code", ["91350100M000100Y43", "11510129008589710X", "91510129MA6CXXXX97"])
def test_uscc_vectors_valid(code: str) -> None:
    assert v.is_valid_uscc(code)
    assert v.uscc_problem(code) is None
    v.check_uscc(code)


def test_uscc_vector_with_bad_embedded_org_code() -> None:
    code = "115101290085897124"
    assert v.uscc_check_char(code[:17]) == code[17]  # the USCC check itself passes
    assert v.uscc_problem(code) == "org_code"
    assert not v.is_valid_uscc(code)
    with pytest.raises(InvalidCode) as exc:
        v.check_uscc(code)
    assert exc.value.code == "CODE_INVALID_ORG_CODE"


def test_uscc_embedded_org_code_of_the_standard_example() -> None:
    assert v.is_valid_org_code("M000100Y-4")
    assert v.is_valid_org_code("91350100M000100Y43"[8:17])


@pytest.mark.parametrize(
    "bad", ["", "91350100M000100Y4", "91350100M000100Y433", "91350100M000100I43", "9135010oM000100Y43"]
)
def test_uscc_shape_errors(bad: str) -> None:
    assert not v.is_valid_uscc(bad)


@pytest.mark.parametrize("code", ["11010519491231002X", "510129199001011238"])
def test_resident_id_vectors(code: str) -> None:
    assert v.is_valid_resident_id(code)
    v.check_resident_id(code)


def test_resident_id_errors() -> None:
    assert v.resident_id_problem("11010519491231002x") == "charset"
    assert v.resident_id_problem("510129199013011238") in ("birth_date", "check_digit")
    assert v.resident_id_problem("510129199002301236") == "birth_date"
    assert v.resident_id_problem("510129199001011239") == "check_digit"
    with pytest.raises(InvalidCode) as exc:
        v.check_resident_id("510129199001011239")
    assert "5101291990" not in str(exc.value)  # never echo a full resident ID


def test_org_code_vector_and_documented_blind_spot() -> None:
    assert v.is_valid_org_code("D2143569-X")
    assert v.is_valid_org_code("D2143569X")
    assert v.org_code_check_char("D2143569") == "X"
    # DOMAIN.md §2: mod 11 over 36 values misses some letter substitutions
    assert v.org_code_check_char("DD143569") == "X"
    assert v.org_code_check_char("22143569") == "X"
    assert v.org_code_problem("D2143569-1") == "check_digit"


def test_region_codes() -> None:
    for code in (*DEMO_JURISDICTIONS, "510000", "450000", "430000", "510100", "511800", "451000", "430500"):
        assert v.is_valid_region_code(code), code
    assert region_full_name("510129") == "四川省成都市大邑县"
    assert region_full_name("511700") == "四川省达州市"
    assert v.region_code_problem("519999") == "unknown"
    assert v.region_code_problem("990000") == "format"
    assert v.region_code_problem("51012") == "format"


def test_license_identifier_vector() -> None:
    assert v.is_valid_license_id(LICENSE_VECTOR)
    parsed = v.parse_license_id(LICENSE_VECTOR)
    assert parsed.type_code == "11510129008589710X001"
    assert parsed.issuer_code == "11510129008589710X"
    assert parsed.serial == "2026000001"
    assert parsed.version == 1
    assert parsed.check == "3"
    assert parsed.defining_authority == "11510129008589710X"
    assert str(parsed) == LICENSE_VECTOR
    assert v.make_license_id("11510129008589710X001", "11510129008589710X", "2026000001", 1) == LICENSE_VECTOR
    assert v.mod37_36_check_char("11510129008589710X00111510129008589710X2026000001001") == "3"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (LICENSE_VECTOR[:-1] + "4", "check_digit"),
        (LICENSE_VECTOR.replace("1.2.156.3005.2", "1.2.156.3005.3"), "prefix"),
        (LICENSE_VECTOR.replace(".001.", ".000."), "version"),
        (LICENSE_VECTOR.replace("2026000001", "202600001"), "serial"),
        (LICENSE_VECTOR.replace("710X001", "710X01"), "type_code"),
        (LICENSE_VECTOR + ".1", "structure"),
    ],
)
def test_license_identifier_errors(bad: str, reason: str) -> None:
    assert v.license_id_problem(bad) == reason
    with pytest.raises(InvalidCode):
        v.parse_license_id(bad)


def test_make_license_id_refuses_bad_parts() -> None:
    with pytest.raises(InvalidCode):
        v.make_license_id("115101290085897124001", "11510129008589710X", "2026000001")
    with pytest.raises(InvalidCode):
        v.make_license_id("11510129008589710X001", "11510129008589710X", "26000001")
    with pytest.raises(InvalidCode):
        v.make_license_id("11510129008589710X001", "11510129008589710X", "2026000001", 1000)


def test_holder_ids_per_type() -> None:
    assert v.holder_id_problem("111", "510129199001011238") is None
    assert v.holder_id_problem("001", "91510129MA6CXXXX97") is None
    assert v.holder_id_problem("414", "E12345678") is None
    assert v.holder_id_problem("516", "H12345678") is None
    assert v.holder_id_problem("516", "12345678") == "format"
    assert v.holder_id_problem("123", "x") == "unknown_type"


# --- property tests -----------------------------------------------------------------------------

_USCC_CHARS = st.sampled_from(v.USCC_ALPHABET)
_ANY_CHAR = st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz-. 中")


@st.composite
def usccs(draw: st.DrawFn) -> str:
    head = "".join(draw(st.lists(_USCC_CHARS, min_size=2, max_size=2)))
    region = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=6)))
    body = "".join(draw(st.lists(_USCC_CHARS, min_size=8, max_size=8)))
    return v.make_uscc(head, region, body)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=6)))
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)))
    return v.make_resident_id(region, birth, draw(st.integers(0, 999)))


@st.composite
def license_ids(draw: st.DrawFn) -> str:
    type_code = draw(usccs()) + f"{draw(st.integers(0, 999)):03d}"
    serial = f"{draw(st.integers(2004, 2100))}{draw(st.integers(0, 999999)):06d}"
    return v.make_license_id(type_code, draw(usccs()), serial, draw(st.integers(1, 999)))


def _change(s: str, pos: int, ch: str) -> str:
    return s[:pos] + ch + s[pos + 1 :]


@settings(max_examples=300, deadline=None)
@given(usccs(), st.data())
def test_uscc_valid_and_every_single_change_fails(code: str, data: st.DataObject) -> None:
    assert v.is_valid_uscc(code)
    pos = data.draw(st.integers(0, 17))
    ch = data.draw(_ANY_CHAR.filter(lambda c: c != code[pos]))
    assert not v.is_valid_uscc(_change(code, pos, ch))


@settings(max_examples=100, deadline=None)
@given(usccs())
def test_uscc_exhaustive_single_substitutions(code: str) -> None:
    for pos in range(18):
        for ch in v.USCC_ALPHABET:
            if ch != code[pos]:
                assert not v.is_valid_uscc(_change(code, pos, ch)), (code, pos, ch)


@settings(max_examples=300, deadline=None)
@given(resident_ids(), st.data())
def test_resident_id_valid_and_every_single_change_fails(code: str, data: st.DataObject) -> None:
    assert v.is_valid_resident_id(code)
    pos = data.draw(st.integers(0, 17))
    ch = data.draw(_ANY_CHAR.filter(lambda c: c != code[pos]))
    assert not v.is_valid_resident_id(_change(code, pos, ch))


@settings(max_examples=100, deadline=None)
@given(resident_ids())
def test_resident_id_exhaustive_digit_substitutions(code: str) -> None:
    for pos in range(18):
        for ch in "0123456789X":
            if ch != code[pos]:
                assert not v.is_valid_resident_id(_change(code, pos, ch))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=v.ORG_CODE_ALPHABET, min_size=8, max_size=8))
def test_org_code_valid_and_every_single_digit_change_fails(body: str) -> None:
    code = body + v.org_code_check_char(body)
    assert v.is_valid_org_code(code)
    assert v.is_valid_org_code(body + "-" + code[-1])
    for pos in range(9):
        if not code[pos].isdigit():
            continue
        for d in "0123456789":
            if d != code[pos]:
                assert not v.is_valid_org_code(_change(code, pos, d)), (code, pos, d)
    for c in "0123456789X":
        if c != code[-1]:
            assert not v.is_valid_org_code(code[:-1] + c)


@settings(max_examples=300, deadline=None)
@given(license_ids(), st.data())
def test_license_id_valid_and_every_single_change_fails(code: str, data: st.DataObject) -> None:
    assert v.is_valid_license_id(code)
    assert str(v.parse_license_id(code)) == code
    pos = data.draw(st.integers(0, len(code) - 1))
    ch = data.draw(_ANY_CHAR.filter(lambda c: c != code[pos]))
    assert not v.is_valid_license_id(_change(code, pos, ch))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=v.MOD37_36_ALPHABET, min_size=1, max_size=60), st.data())
def test_mod37_36_catches_every_single_substitution(data_str: str, data: st.DataObject) -> None:
    full = data_str + v.mod37_36_check_char(data_str)
    assert v.mod37_36_is_valid(full)
    for pos in range(len(full)):
        for ch in v.MOD37_36_ALPHABET:
            if ch != full[pos]:
                assert not v.mod37_36_is_valid(_change(full, pos, ch))
