"""SOAP client on zeep for the provincial platform, hardened.

- The WSDL is the contract's file (``contracts/wire/province.wsdl``), never fetched from the peer.
- XML: ``Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True,
  xml_huge_tree=False)`` — zeep accepts DTDs by default (FACTS.md); a reply with a DTD, entity
  declaration or external reference raises :class:`~connectors.errors.XmlAttack`.
- Bounded replies: :class:`BoundedTransport` streams the body and stops at
  ``max_response_bytes`` (a 100 MB reply costs at most the cap in memory) and enforces a whole-
  exchange deadline, not only a per-read timeout (:mod:`connectors.deadline` cuts the socket of a
  peer that trickles its reply; the call fails as a retryable ``Timeout``).
- WS-Security: UsernameToken (password digest, fresh nonce) + wsu:Timestamp, composed with
  ``zeep.wsse.Compose`` (a plain list crashes on the reply, FACTS.md).
- One ``requests.Session`` per client (keep-alive, pool sized for the outbox's concurrency).
- Every call goes through :func:`~connectors.resilience.call_with_retry` and the endpoint's
  circuit breaker; every exchange (each attempt) is handed to ``recorder`` for the message log.
  The reads (``QueryCounts``, ``LookupRows``) are idempotent: a refused reply is retried within
  the same budget as a timeout.
- No legitimate reply outgrows the reply limit: :meth:`ProvinceSoapClient.counts` asks for counts
  in windows of days (and tables) sized from ``max_response_bytes`` so that a full window's reply
  fits by construction, and :meth:`ProvinceSoapClient.lookup` pages its keys the same way.

Why one module of this length: the zeep client and the transport and plugins that harden it
configure one client; apart, none of them is usable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from connectors.deadline import DeadlineAdapter, deadline
from connectors.errors import (
    ClientFault,
    ConnectorError,
    MalformedResponse,
    ResponseTooLarge,
    Timeout,
    translate,
)
from connectors.resilience import CircuitBreaker, Timing, breaker_for, call_with_retry
from connectors.xmlsafe import check_prolog
from contracts.fields import CASE_TABLES
from contracts.wire import wire_path

PROVINCE_WSDL = wire_path("province.wsdl")
PROVINCE_TABLES = frozenset(CASE_TABLES)

# Upper bounds of the reply sizes, in bytes, with spyne's namespace prefixes (measured: a DayCount
# is ~130 bytes, a RowPresence ~150 plus its key): the envelope, one DayCount (a table name of the
# contract, a date, a count), and one RowPresence without its key (a key is echoed back once).
REPLY_ENVELOPE_MAX = 2048
DAYCOUNT_MAX = 320
PRESENCE_MAX = 320
MAX_WINDOW_DAYS = 366
MAX_LOOKUP_PAGE = 1000


def count_windows(max_bytes: int, tables: int) -> tuple[bool, int]:
    """How to ask for ``tables`` tables' counts per day so that no reply exceeds ``max_bytes``.

    Returns ``(all_tables, days)``: ask every table at once in windows of ``days`` days, or (when
    even one day of every table would not fit) one table at a time in windows of ``days`` days.
    """
    entries = max(1, (max_bytes - REPLY_ENVELOPE_MAX) // DAYCOUNT_MAX)
    if entries >= tables:
        return True, max(1, min(MAX_WINDOW_DAYS, entries // tables))
    return False, max(1, min(MAX_WINDOW_DAYS, entries))


def day_windows(day_from: str, day_to: str, days: int) -> list[tuple[str, str]]:
    """``[day_from, day_to]`` (ISO dates, both ends included) cut into windows of ``days`` days."""
    start, end = dt.date.fromisoformat(day_from), dt.date.fromisoformat(day_to)
    out = []
    while start <= end:
        stop = min(end, start + dt.timedelta(days=days - 1))
        out.append((start.isoformat(), stop.isoformat()))
        start = stop + dt.timedelta(days=1)
    return out


def lookup_pages(keys: Sequence[str], max_bytes: int, cap: int = MAX_LOOKUP_PAGE) -> list[list[str]]:
    """``keys`` cut into pages whose LookupRows reply fits ``max_bytes`` (each key is echoed once)."""
    budget = max_bytes - REPLY_ENVELOPE_MAX
    pages: list[list[str]] = []
    page: list[str] = []
    used = 0
    for k in keys:
        cost = PRESENCE_MAX + len(k.encode())
        if page and (used + cost > budget or len(page) >= cap):
            pages.append(page)
            page, used = [], 0
        page.append(k)
        used += cost
    if page:
        pages.append(page)
    return pages


@dataclass
class Exchange:
    """One request/response on the wire (what the message log records)."""

    correlation_id: str
    peer: str
    operation: str
    attempt: int
    started_at: dt.datetime
    duration_ms: float = 0.0
    request_bytes: bytes = b""
    response_bytes: bytes = b""
    response_code: int | None = None
    error_code: str | None = None
    error: str | None = None
    rows: int = 0

    @property
    def payload_sha256(self) -> str:
        return hashlib.sha256(self.request_bytes).hexdigest()


Recorder = Callable[[Exchange], None]


@dataclass(frozen=True)
class Receipt:
    """The peer's answer for one row (or event): stored | duplicate | rejected | skipped."""

    key: str
    status: str
    reason: str = ""

    @property
    def delivered(self) -> bool:
        return self.status in ("stored", "duplicate")


@dataclass(frozen=True)
class Presence:
    row_guid: str
    found: bool
    table: str | None = None
    seq: int | None = None


class _Wire(threading.local):
    def __init__(self) -> None:
        self.request = b""
        self.response = b""
        self.status: int | None = None


class BoundedTransport:
    """A zeep transport whose POST reads at most ``max_bytes`` of the reply within a deadline."""

    def __init__(self, session: requests.Session, timing: Timing) -> None:
        from zeep.transports import Transport

        outer = self

        class _T(Transport):  # type: ignore[misc]
            def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
                return outer._post(address, message, headers)

        self.timing = timing
        self.wire = _Wire()
        self.zeep = _T(
            session=session, timeout=timing.read_timeout_s, operation_timeout=timing.read_timeout_s
        )

    def _post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        t = self.timing
        total = t.read_timeout_s + t.connect_timeout_s
        with deadline(total) as armed:
            try:
                return self._exchange(address, message, headers)
            except Exception as exc:  # whatever a cut socket raises (requests, urllib3, OSError, ours)
                if armed.fired:  # the watchdog cut a reply that came too slowly (e.g. one byte at a time)
                    raise Timeout(f"reply not complete within {total:.2f}s (the whole exchange)") from exc
                raise

    def _exchange(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        t = self.timing
        self.wire.request = message if isinstance(message, bytes) else str(message).encode()
        self.wire.response = b""
        self.wire.status = None
        deadline_at = time.monotonic() + t.read_timeout_s + t.connect_timeout_s
        resp: requests.Response = self.zeep.session.post(
            address,
            data=message,
            headers=headers,
            timeout=(t.connect_timeout_s, t.read_timeout_s),
            stream=True,
        )
        self.wire.status = resp.status_code
        try:
            declared = int(resp.headers.get("Content-Length") or -1)
            if declared > t.max_response_bytes:
                raise ResponseTooLarge(
                    f"reply announces {declared} bytes, more than the limit of {t.max_response_bytes}"
                )
            buf = bytearray()
            for chunk in resp.raw.stream(64 * 1024, decode_content=True):
                buf += chunk
                if len(buf) > t.max_response_bytes:
                    raise ResponseTooLarge(
                        f"reply exceeded the limit of {t.max_response_bytes} bytes; cut off after {len(buf)}"
                    )
                if time.monotonic() > deadline_at:
                    raise Timeout(f"reply not complete within {t.read_timeout_s + t.connect_timeout_s:.2f}s")
        except ConnectorError:
            resp.close()  # drop the connection: the rest of the body is never read
            raise
        except Exception:
            resp.close()
            raise
        check_prolog(bytes(buf[:65536]))
        resp._content = bytes(buf)
        resp._content_consumed = True  # type: ignore[attr-defined]
        self.wire.response = resp._content[:65536]
        return resp


class TimestampToken:
    """A fresh ``wsu:Timestamp`` (Created, Expires) per message."""

    def __init__(self, ttl_s: int = 300) -> None:
        self.ttl_s = ttl_s

    def apply(self, envelope: Any, headers: Any) -> tuple[Any, Any]:
        from zeep.wsse import utils

        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        security = utils.get_security_header(envelope)
        security.append(
            utils.WSU.Timestamp(
                utils.WSU.Created(now.isoformat().replace("+00:00", "Z")),
                utils.WSU.Expires(
                    (now + dt.timedelta(seconds=self.ttl_s)).isoformat().replace("+00:00", "Z")
                ),
            )
        )
        return envelope, headers

    def verify(self, envelope: Any) -> Any:
        return envelope


_TNS = "{urn:tongban:province:v1}"


class _BulkRows(threading.local):
    """Rows waiting to be placed into the next SubmitCaseRows envelope of this thread."""

    def __init__(self) -> None:
        self.rows: Sequence[tuple[str, dict[str, Any]]] | None = None


def _bulk_rows_plugin(bulk: _BulkRows) -> Any:
    """A zeep egress plugin that fills ``rows`` with CaseRow elements built directly with lxml.

    zeep's generic object serializer costs ~1 ms per 22-column row; building the same elements
    from the field table is ~20x cheaper. zeep still builds the envelope, applies WS-Security,
    sends, and parses and validates the reply.
    """
    from lxml import etree
    from zeep import Plugin

    from contracts.fields import TABLES

    columns = {name: [(f.name, _TNS + f.name) for f in spec.fields] for name, spec in TABLES.items()}

    class BulkRowsPlugin(Plugin):  # type: ignore[misc]
        def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
            rows = bulk.rows
            if rows is None or operation.name != "SubmitCaseRows":
                return envelope, http_headers
            bulk.rows = None
            holder = envelope.find(f".//{_TNS}rows")
            sub = etree.SubElement
            for table, row in rows:
                case_row = sub(holder, _TNS + "CaseRow")
                el = sub(case_row, _TNS + table)
                for name, tag in columns[table]:
                    v = row.get(name)
                    if v is not None:
                        sub(el, tag).text = str(v)
            return envelope, http_headers

    return BulkRowsPlugin()


def hardened_settings() -> Any:
    from zeep import Settings

    return Settings(
        strict=True,
        xml_huge_tree=False,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
        raw_response=False,
    )


def make_session(pool: int = 4) -> requests.Session:
    s = requests.Session()
    adapter = DeadlineAdapter(pool_connections=2, pool_maxsize=max(2, pool), max_retries=0)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = "tongban-connectors"
    return s


class ProvinceSoapClient:
    """The province's SOAP service through zeep (see the module docstring for the hardening)."""

    def __init__(
        self,
        endpoint: str,
        *,
        peer: str = "province",
        username: str | None = None,
        password: str | None = None,
        timing: Timing | None = None,
        sender: str = "tongban",
        recorder: Recorder | None = None,
        pool: int = 4,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        from zeep import Client
        from zeep.wsse import Compose, UsernameToken

        self.endpoint = endpoint
        self.peer = peer
        self.sender = sender
        self.timing = timing or Timing()
        self.recorder = recorder
        self.session = make_session(pool)
        self.transport = BoundedTransport(self.session, self.timing)
        wsse = None
        if username:
            wsse = Compose([UsernameToken(username, password or "", use_digest=True), TimestampToken()])
        self._bulk = _BulkRows()
        self.client = Client(
            str(PROVINCE_WSDL),
            settings=hardened_settings(),
            transport=self.transport.zeep,
            wsse=wsse,
            plugins=[_bulk_rows_plugin(self._bulk)],
        )
        self.service = self.client.create_service("{urn:tongban:province:v1}ProvinceExchange", endpoint)
        self.breaker = breaker or breaker_for(f"{peer}:{endpoint}", self.timing)

    def close(self) -> None:
        self.session.close()

    # --- one exchange, with retries, breaker and message log ---
    def _call(self, operation: str, rows: int, fn: Callable[[], Any], *, idempotent: bool = False) -> Any:
        correlation = uuid.uuid4().hex

        def attempt(n: int) -> Any:
            ex = Exchange(correlation, self.peer, operation, n, dt.datetime.now(dt.UTC), rows=rows)
            t0 = time.perf_counter()
            try:
                return fn()
            except Exception as exc:
                err = translate(exc, peer=self.peer, operation=operation, attempt=n)
                ex.error_code, ex.error = err.code, err.message
                raise err from exc
            finally:
                ex.duration_ms = (time.perf_counter() - t0) * 1000
                ex.request_bytes = self.transport.wire.request
                ex.response_bytes = self.transport.wire.response
                ex.response_code = self.transport.wire.status
                if self.recorder is not None:
                    self.recorder(ex)

        return call_with_retry(
            attempt,
            timing=self.timing,
            breaker=self.breaker,
            peer=self.peer,
            operation=operation,
            idempotent=idempotent,
        )

    def submit_rows(self, batch_id: str, rows: Sequence[tuple[str, dict[str, Any]]]) -> list[Receipt]:
        """Send (table, row) pairs in order; one receipt per row, in order."""
        for table, _ in rows:
            if table not in PROVINCE_TABLES:
                raise ClientFault(f"no such case table {table!r}", peer=self.peer, operation="SubmitCaseRows")

        def send() -> Any:
            self._bulk.rows = rows  # placed into the envelope by the bulk-rows plugin
            try:
                return self.service.SubmitCaseRows(
                    batch_id=batch_id, sender=self.sender, rows={"CaseRow": []}
                )
            finally:
                self._bulk.rows = None

        result = self._call("SubmitCaseRows", len(rows), send)
        receipts = _receipts(result)
        _check_receipts(receipts, [r.get("row_guid", "") for _, r in rows], self.peer, "SubmitCaseRows")
        return receipts

    def submit_events(self, batch_id: str, events: Sequence[dict[str, str]]) -> list[Receipt]:
        def send() -> Any:
            return self.service.SubmitCatalogEvents(
                batch_id=batch_id, sender=self.sender, events={"CatalogEvent": list(events)}
            )

        result = self._call("SubmitCatalogEvents", len(events), send)
        receipts = _receipts(result)
        _check_receipts(receipts, [e["event_id"] for e in events], self.peer, "SubmitCatalogEvents")
        return receipts

    def query_counts(
        self, table: str | None = None, day_from: str | None = None, day_to: str | None = None
    ) -> list[tuple[str, str, int]]:
        """One ``QueryCounts`` call (a read: retried). Its reply is bounded only by the window you
        ask for: prefer :meth:`counts`, which sizes the windows from the reply limit."""

        def send() -> Any:
            return self.service.QueryCounts(table=table, day_from=day_from, day_to=day_to)

        result = self._call("QueryCounts", 0, send, idempotent=True)
        return [(d.table, d.day, int(d.count)) for d in _items(result)]

    def counts(
        self, day_from: str, day_to: str, tables: Iterable[str] = CASE_TABLES
    ) -> dict[tuple[str, str], int]:
        """Rows the province holds per (table, ``cd_time`` day) for every day in [from, to], read in
        windows whose replies fit ``max_response_bytes`` by construction (:func:`count_windows`)."""
        names = sorted(tables)
        all_at_once, days = count_windows(self.timing.max_response_bytes, len(names))
        wanted = set(names)
        out: dict[tuple[str, str], int] = {}
        for lo, hi in day_windows(day_from, day_to, days):
            for table in [None] if all_at_once else names:
                for t, d, n in self.query_counts(table, lo, hi):
                    if t in wanted:
                        out[(t, d)] = out.get((t, d), 0) + n
        return out

    def lookup(self, row_guids: Iterable[str], chunk: int = MAX_LOOKUP_PAGE) -> dict[str, Presence]:
        """Presence of each key at the province, asked in pages that fit the reply limit."""
        out: dict[str, Presence] = {}
        for part in lookup_pages(list(row_guids), self.timing.max_response_bytes, cap=chunk):

            def send(part: list[str] = part) -> Any:
                return self.service.LookupRows(row_guids={"string": part})

            for p in _items(self._call("LookupRows", len(part), send, idempotent=True)):
                out[p.row_guid] = Presence(p.row_guid, bool(p.found), p.table, p.seq)
        return out


def _items(result: Any) -> list[Any]:
    if result is None:
        return []
    for name in ("RowReceipt", "DayCount", "RowPresence"):
        if hasattr(result, name) or (isinstance(result, dict) and name in result):
            v = result[name]
            return list(v or [])
    return list(result)


def _receipts(result: Any) -> list[Receipt]:
    return [Receipt(r.row_guid, r.status, r.reason or "") for r in _items(result)]


def _check_receipts(receipts: list[Receipt], keys: list[str], peer: str, op: str) -> None:
    if [r.key for r in receipts] != keys:
        raise MalformedResponse(
            f"receipts do not match the rows sent ({len(receipts)} receipts for {len(keys)} rows)",
            peer=peer,
            operation=op,
        )
    bad = {r.status for r in receipts} - {"stored", "duplicate", "rejected", "skipped"}
    if bad:
        raise MalformedResponse(f"unknown receipt status {sorted(bad)}", peer=peer, operation=op)
