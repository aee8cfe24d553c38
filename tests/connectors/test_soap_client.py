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


class _Trickler:
    """A peer on loopback that answers any request one byte every ``gap_s`` seconds — in the status
    line, the headers or the body — and counts the bytes it got out before the client hung up."""

    def __init__(self, where: str, gap_s: float = 0.2) -> None:
        import socket
        import threading

        body = b"<x/>" * 500
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nX-Pad: %s\r\nContent-Length: %d\r\n\r\n" % (
            b"p" * 300,
            len(body),
        )
        self.reply = head if where == "headers" else head + body
        self.skip = 0 if where == "headers" else len(head)  # sent at once before the trickle
        self.gap_s, self.sent = gap_s, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/province"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(self.reply[: self.skip])
                    for i in range(self.skip, len(self.reply)):
                        if self._stop.wait(self.gap_s):
                            return
                        conn.sendall(self.reply[i : i + 1])
                        self.sent += 1
                except OSError:
                    continue  # the client hung up: next connection

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


@pytest.mark.timeout(120)  # without the deadline the trickle would hold the call for minutes
@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_peer_trickling_its_reply_is_cut_at_the_whole_exchange_deadline(where: str) -> None:
    """Issue 20: one byte every 0.2 s never trips a 1 s read timeout; the exchange deadline (read +
    connect timeout) cuts it, and the call fails as a retryable Timeout, each attempt in the log."""
    peer = _Trickler(where)
    exchanges: list[object] = []
    try:
        timing = dataclasses.replace(FAST, read_timeout_s=1.0, connect_timeout_s=0.5, attempts=2)
        client = ProvinceSoapClient(peer.url, timing=timing, recorder=exchanges.append)
        with pytest.raises(Timeout) as info:
            client.query_counts()
        assert info.value.retryable
        assert "whole exchange" in str(info.value) or "not complete" in str(info.value)
        assert len(exchanges) == 2  # both attempts ended by the deadline, each recorded
        # the trickled part is 300+ bytes (head) or 2,000 (body): the client hung up long before
        assert peer.sent < 100, peer.sent
    finally:
        peer.close()
