"""The hardened zeep client against the real sandbox province: receipts, queries, every fault kind
mapped to one error of the tree, XML attacks refused with bounded memory, oversized replies cut off."""

from __future__ import annotations

import dataclasses
import resource

import pytest

from connectors.errors import (
    ClientFault,
    ConnectorError,
    MalformedResponse,
    NetworkError,
    ResponseTooLarge,
    SoapFault,
    Timeout,
    XmlAttack,
)
from connectors.soap import ProvinceSoapClient
from sandbox.data import case_rows
from sandbox.faults import FaultPlan
from tests.connectors.conftest import FAST, Province

pytestmark = pytest.mark.integration


def _client(province: Province, **kw) -> ProvinceSoapClient:
    timing = dataclasses.replace(FAST, **kw)
    return ProvinceSoapClient(province.url, timing=timing, username="county", password="s3cret")


def test_submit_receipts_dedup_query_lookup(province: Province) -> None:
    c = _client(province)
    rows = list(case_rows(3, "510129", 12))
    receipts = c.submit_rows("b1", rows)
    assert [r.status for r in receipts] == ["stored"] * 12
    again = c.submit_rows("b1", rows[:3])
    assert [r.status for r in again] == ["duplicate"] * 3
    counts = c.query_counts()
    assert sum(n for _, _, n in counts) == 12
    found = c.lookup([rows[0][1]["row_guid"], "no-such-guid"])
    assert found[rows[0][1]["row_guid"]].found and not found["no-such-guid"].found
    assert province.store.distinct_rows() == 12


def test_rejected_row_skips_later_rows_of_its_case(province: Province) -> None:
    c = _client(province)
    rows = list(case_rows(4, "510129", 10))  # two cases of five rows
    bad_table, bad = rows[1]
    rows[1] = (bad_table, {**bad, "material_type": "Z"})  # not in the code list
    statuses = [r.status for r in c.submit_rows("b", rows)]
    assert statuses[:5] == ["stored", "rejected", "skipped", "skipped", "skipped"]
    assert statuses[5:] == ["stored"] * 5


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("error", SoapFault),
        ("reset", NetworkError),
        ("lost", NetworkError),
        ("timeout", Timeout),
        ("malformed", MalformedResponse),
    ],
)
def test_each_fault_maps_to_one_retryable_error(
    province: Province, kind: str, error: type[ConnectorError]
) -> None:
    province.faults(FaultPlan.parse(f"{kind}=1.0,timeout_s=2.0"))
    c = _client(province, attempts=2, read_timeout_s=0.5)
    with pytest.raises(error) as info:
        c.submit_rows("b", list(case_rows(5, "510129", 2)))
    assert info.value.retryable and info.value.attempt == 2 and info.value.peer == "province"
    assert info.value.operation == "SubmitCaseRows"


def test_lost_reply_was_committed_and_resend_is_a_duplicate(province: Province) -> None:
    rows = list(case_rows(6, "510129", 5))
    province.faults(FaultPlan(lost=1.0))
    with pytest.raises(NetworkError):
        _client(province, attempts=1).submit_rows("b", rows)
    assert province.store.distinct_rows() == 5  # committed, reply lost
    province.faults(FaultPlan())
    assert {r.status for r in _client(province).submit_rows("b", rows)} == {"duplicate"}


@pytest.mark.parametrize("attack", ["billion_laughs", "external_entity", "dtd"])
def test_xml_attacks_in_replies_are_refused(province: Province, attack: str) -> None:
    province.faults(FaultPlan(xml_attack=1.0, attack=attack))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(XmlAttack) as info:
        _client(province, attempts=3).submit_rows("b", list(case_rows(7, "510129", 1)))
    assert not info.value.retryable and info.value.attempt == 1  # permanent: not retried
    assert "DTD" in str(info.value) or "entity" in str(info.value)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50 * 1024  # no expansion happened


def test_100_mb_reply_is_cut_off_at_the_limit(province: Province) -> None:
    province.faults(FaultPlan(oversized=1.0, oversized_bytes=100 * 1024 * 1024))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ResponseTooLarge) as info:
        _client(province, max_response_bytes=2 * 1024 * 1024, read_timeout_s=10).submit_rows(
            "b", list(case_rows(8, "510129", 1))
        )
    assert "2097152" in str(info.value)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 40 * 1024  # bounded by the cap, not by the 100 MB body


def test_server_fault_does_not_leak_zeep_types(province: Province) -> None:
    province.faults(FaultPlan(error=1.0))
    with pytest.raises(SoapFault) as info:
        _client(province, attempts=1).query_counts()
    assert type(info.value).__module__ == "connectors.errors"
    assert info.value.__cause__ is not None  # cause kept


def test_client_fault_is_permanent() -> None:
    assert not ClientFault("x").retryable


def test_ws_security_is_verified_by_the_province(tmp_path) -> None:
    from connectors.errors import AuthError
    from sandbox.province import ProvinceStore, make_province_app
    from sandbox.server import start

    srv = start(make_province_app(ProvinceStore(tmp_path / "p.db"), users={"county": "s3cret"}))
    try:
        url = srv.url + "/"
        slow = dataclasses.replace(FAST, read_timeout_s=10)
        good = ProvinceSoapClient(url, timing=slow, username="county", password="s3cret")
        assert all(r.delivered for r in good.submit_rows("b", list(case_rows(9, "510129", 2))))
        for user, pw in (("county", "wrong"), ("nobody", "s3cret"), (None, None)):
            c = ProvinceSoapClient(url, timing=slow, username=user, password=pw)
            with pytest.raises(AuthError):
                c.query_counts()
    finally:
        srv.close()
