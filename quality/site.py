"""The data-quality site (数据质量站点), in the spirit of great-expectations' Data Docs: static,
self-contained HTML pages (no scripts, no external resources) built from the case store's batch
records, the quarantined rows and the reports zone, for the integration engineer.

Pages, by relative path (links between them are relative, so the same pages work written to a
folder — ``tongban quality site OUT_DIR`` — and served under ``/quality/`` by the sharing API)::

    index.html                      every batch, newest first: time, source, county, rows,
                                    curated / held / quarantined, receipt status, top rules
    trends.html                     per county, batch after batch: rows, pass rate (and a chart)
    holds.html                      cases held by their materials: license references that did
                                    not pass (with the reason), missed 容缺 supply dates
                                    (quality.site_holds)
    batches/<hash>.html             one batch: counts, the receipt checked in full (signature,
                                    certificate, every object it names), each failed rule with
                                    examples
    batches/<hash>/report.html      the batch's stored HTML report (quality.report), as stored
    rules/<rule_id>.html            one rule's failures over every batch, with examples

Citizen data is masked the way the report masks it (:func:`quality.report.mask_row`: resident
IDs as ``5101**********1238``, names to the family name, every other value through
:func:`core.masking.redact_text`); no page carries a raw line.

Why one module of this length: it is the site's router and its batch pages, which share the
batch summaries and examples; the page chrome lives in :mod:`quality.site_pages`, the holds page
in :mod:`quality.site_holds`.

Public API::

    BatchSummary                    # one row of the index
    QualitySite(settings, *, database=None, store=None, keystore=None, examples=5)
    .batches() -> list[BatchSummary]
    .page(path) -> bytes | None     # None: no such page
    .paths() -> list[str]           # every page of the site
    .write(out_dir) -> list[Path]   # the whole site as files (index.html first)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import select

from contracts.rules import RULES
from core.casestore import BatchRecord, QuarantinedRow
from core.db import Database
from core.errors import CoreError
from core.keys import AnyKeyStore
from core.masking import redact_text
from core.settings import Settings
from core.store import ObjectStore, Zone
from quality.outputs import Outputs
from quality.receipt import verify_receipt
from quality.report import mask_row
from quality.site_holds import holds_page
from quality.site_pages import (
    BatchSummary,
    county_name,
    page_html,
    rate_chart,
    receipt_cell,
    rule_link,
    top_rules,
)

__all__ = ["BatchSummary", "QualitySite"]

_HASH = re.compile(r"^[0-9a-f]{64}$")
_RULE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_COUNTY = re.compile(r"(?<!\d)(\d{6})(?!\d)")


class QualitySite:
    """The site over one data dir's case store and object store (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database | None = None,
        store: ObjectStore | None = None,
        keystore: AnyKeyStore | None = None,
        examples: int = 5,
    ) -> None:
        self.settings = settings
        self._db = database
        self._store = store
        self._keystore = keystore
        self.examples = examples

    # -- parts, opened on first use (nothing happens at construction) -------------------------------
    @property
    def db(self) -> Database:
        if self._db is None:
            from core.runtime import shared_database

            self._db = shared_database(self.settings)
        return self._db

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            from core.store import open_store

            self._store = open_store(self.settings)
        return self._store

    @property
    def keystore(self) -> AnyKeyStore:
        if self._keystore is None:
            from core.runtime import keystore

            self._keystore = keystore(self.settings)
        return self._keystore

    # -- data ----------------------------------------------------------------------------------
    def _records(self, batch_hash: str | None = None) -> list[BatchRecord]:
        with self.db.session() as s:
            q = select(BatchRecord).order_by(BatchRecord.validated_at.desc())
            if batch_hash is not None:
                q = q.where(BatchRecord.batch_hash == batch_hash)
            return list(s.scalars(q))

    def _summary(self, rec: BatchRecord) -> BatchSummary:
        doc = rec.outcome_doc()
        report = (doc.get("objects") or {}).get("report") or {}
        source = ""
        if report.get("key"):
            try:
                source = self.store.stat("reports", str(report["key"])).source
            except CoreError:
                source = ""
        found = _COUNTY.search(source) or _COUNTY.search(rec.name)
        if rec.receipt:
            check = verify_receipt(rec.receipt, keystore=self.keystore, check_objects=False)
            receipt = "signed" if check.valid else "invalid"
            receipt_reasons = tuple(check.reasons)
        else:
            receipt, receipt_reasons = "missing", ()
        return BatchSummary(
            batch_hash=rec.batch_hash,
            name=rec.name,
            source=source,
            county=found.group(1) if found else "",
            validated_at=rec.validated_at,
            rows=rec.rows,
            curated=rec.curated,
            held=rec.held,
            quarantined=rec.quarantined,
            released=rec.released,
            expired=rec.expired,
            file_quarantined=rec.file_quarantined,
            receipt=receipt,
            receipt_reasons=receipt_reasons,
            reasons=dict(doc.get("reasons") or {}),
            report_key=str(report["key"]) if report.get("key") else None,
        )

    def batches(self) -> list[BatchSummary]:
        """Every validated batch, newest first."""
        return [self._summary(r) for r in self._records()]

    def _examples(
        self, *, batch_hash: str | None = None, rule_id: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Up to ``examples`` masked failing rows per rule (of one batch, or of one rule)."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.db.session() as s:
            q = select(QuarantinedRow).order_by(QuarantinedRow.id)
            if batch_hash is not None:
                q = q.where(QuarantinedRow.batch_hash == batch_hash)
            if rule_id is not None:
                q = q.where(QuarantinedRow.reasons.contains(json.dumps(rule_id)))
            for row in s.scalars(q.limit(5000)):
                for reason in row.reason_list():
                    rid = str(reason.get("rule_id"))
                    if rule_id is not None and rid != rule_id:
                        continue
                    bucket = out.setdefault(rid, [])
                    if len(bucket) < self.examples:
                        bucket.append(self._example(row, reason))
        return out

    @staticmethod
    def _example(row: QuarantinedRow, reason: Mapping[str, Any]) -> dict[str, Any]:
        shown: str
        try:
            parsed = json.loads(row.raw) if row.raw else None
        except ValueError:
            parsed = None
        value = None
        if isinstance(parsed, dict):
            masked = mask_row(parsed)
            shown = "; ".join(f"{k}={v}" for k, v in masked.items())
            value = masked.get(str(reason.get("field")))
        else:
            shown = redact_text(str(row.raw or ""))
        detail = redact_text(str(reason.get("detail") or ""))
        if not detail and value is not None:
            detail = f"value: {value}"
        return {
            "batch_hash": row.batch_hash,
            "line": row.line,
            "table": row.table_name,
            "field": reason.get("field"),
            "detail": detail,
            "row": shown[:400],
        }

    # -- pages ---------------------------------------------------------------------------------
    def paths(self) -> list[str]:
        out = ["index.html", "trends.html", "holds.html"]
        rules: set[str] = set()
        for b in self.batches():
            out.append(f"batches/{b.batch_hash}.html")
            if b.report_key:
                out.append(f"batches/{b.batch_hash}/report.html")
            rules |= set(b.reasons)
        out += [f"rules/{r}.html" for r in sorted(rules)]
        return out

    def page(self, path: str) -> bytes | None:
        """The page at ``path`` (relative, as in the module docstring); None when there is none."""
        path = path.strip("/") or "index.html"
        if path == "index.html":
            return self._index()
        if path == "trends.html":
            return self._trends()
        if path == "holds.html":
            return holds_page(self.db)
        parts = path.split("/")
        if len(parts) == 2 and parts[0] == "batches" and parts[1].endswith(".html"):
            h = parts[1][: -len(".html")]
            return self._batch(h) if _HASH.match(h) else None
        if len(parts) == 3 and parts[0] == "batches" and parts[2] == "report.html" and _HASH.match(parts[1]):
            return self._report(parts[1])
        if len(parts) == 2 and parts[0] == "rules" and parts[1].endswith(".html"):
            r = parts[1][: -len(".html")]
            return self._rule(r) if _RULE.match(r) else None
        return None

    def write(self, out_dir: str | Path) -> list[Path]:
        """Every page under ``out_dir`` (created); returns the files, index.html first."""
        root = Path(out_dir)
        written: list[Path] = []
        for rel in self.paths():
            data = self.page(rel)
            if data is None:
                continue
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(target)
        return written

    def _index(self) -> bytes:
        batches = self.batches()
        total = sum(b.rows for b in batches)
        h = [
            "<h1>数据质量 data quality — 批次 batches</h1>",
            f"<p id='totals'>{len(batches)} batches, {total:,} rows; "
            f"{sum(b.curated for b in batches):,} curated, {sum(b.held for b in batches):,} held, "
            f"{sum(b.quarantined for b in batches):,} quarantined.</p>",
            "<table id='batches'><tr><th>validated at (UTC)</th><th>batch</th><th>source</th><th>county</th>"
            "<th>rows</th><th>curated</th><th>held</th><th>quarantined</th><th>pass rate</th>"
            "<th>receipt</th><th>top failing rules</th></tr>",
        ]
        for b in batches:
            top = ", ".join(f"{rule_link(r, '')} {n}" for r, n in top_rules(b.reasons, 3))
            h.append(
                f"<tr class='batch' data-hash='{b.batch_hash}'><td>{escape(b.validated_at[:19])}</td>"
                f"<td><a href='batches/{b.batch_hash}.html'>{escape(b.name or b.batch_hash[:12])}</a></td>"
                f"<td>{escape(b.source or '—')}</td><td>{escape(county_name(b.county))}</td>"
                f"<td class='num'>{b.rows:,}</td><td class='num'>{b.curated:,}</td>"
                f"<td class='num'>{b.held:,}</td><td class='num'>{b.quarantined:,}</td>"
                f"<td class='num'>{b.pass_rate:.2%}</td><td>{receipt_cell(b)}</td>"
                f"<td>{top or '—'}</td></tr>"
            )
        h.append("</table>")
        if not batches:
            h.append("<p>还没有校验过的批次 (no batch validated yet).</p>")
        return page_html("数据质量 data quality", "", h)

    def _trends(self) -> bytes:
        by_county: dict[str, list[BatchSummary]] = {}
        for b in reversed(self.batches()):  # oldest first
            by_county.setdefault(b.county, []).append(b)
        h = ["<h1>趋势 trends per county</h1>"]
        for county in sorted(by_county):
            rows = by_county[county]
            h.append(f"<h2 class='county' data-county='{escape(county)}'>{escape(county_name(county))}</h2>")
            h.append(rate_chart([(b.validated_at[:19], b.pass_rate) for b in rows]))
            h.append(
                "<table><tr><th>validated at (UTC)</th><th>batch</th><th>rows</th><th>quarantined</th>"
                "<th>pass rate</th><th>top failing rule</th></tr>"
            )
            for b in rows:
                top = "".join(f"{rule_link(r, '')} {n}" for r, n in top_rules(b.reasons, 1))
                h.append(
                    f"<tr><td>{escape(b.validated_at[:19])}</td>"
                    f"<td><a href='batches/{b.batch_hash}.html'>"
                    f"{escape(b.name or b.batch_hash[:12])}</a></td>"
                    f"<td class='num'>{b.rows:,}</td><td class='num'>{b.quarantined:,}</td>"
                    f"<td class='num'>{b.pass_rate:.2%}</td>"
                    f"<td>{top or '—'}</td></tr>"
                )
            h.append("</table>")
        return page_html("趋势 trends", "", h)

    def _batch(self, batch_hash: str) -> bytes | None:
        recs = self._records(batch_hash)
        if not recs:
            return None
        b = self._summary(recs[0])
        h = [
            f"<h1>批次 batch {escape(b.name or b.batch_hash[:12])}</h1>",
            "<table>",
            f"<tr><th>batch SHA-256</th><td><code>{b.batch_hash}</code></td></tr>",
            f"<tr><th>validated at</th><td>{escape(b.validated_at)}</td></tr>",
            f"<tr><th>source</th><td>{escape(b.source or '—')}</td></tr>",
            f"<tr><th>county</th><td>{escape(county_name(b.county))}</td></tr>",
            "</table><table id='counts'><tr><th>rows</th><th>curated</th><th>held</th><th>quarantined</th>"
            "<th>released</th><th>expired</th><th>pass rate</th></tr>",
            f"<tr><td class='num'>{b.rows:,}</td><td class='num'>{b.curated:,}</td>"
            f"<td class='num'>{b.held:,}</td>"
            f"<td class='num'>{b.quarantined:,}</td><td class='num'>{b.released:,}</td>"
            f"<td class='num'>{b.expired:,}</td><td class='num'>{b.pass_rate:.2%}</td></tr></table>",
        ]
        if b.report_key:
            h.append(
                f"<p><a id='report' href='{b.batch_hash}/report.html'>完整报告 the batch's report</a></p>"
            )
        h.append("<h2>回执 signed receipt</h2>")
        if recs[0].receipt:
            check = verify_receipt(recs[0].receipt, keystore=self.keystore, outputs=Outputs(self.store))
            verdict = "ok'>有效 valid" if check.valid else "bad'>无效 NOT valid"
            h.append(
                f"<p id='receipt' class='{verdict}</p><p>checked: {escape(', '.join(check.checked))}</p>"
            )
            if check.reasons:
                h.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in check.reasons) + "</ul>")
        else:
            h.append("<p id='receipt' class='warn'>no receipt</p>")
        examples = self._examples(batch_hash=batch_hash)
        h.append("<h2>失败的规则 failed rules, with examples (citizen identifiers masked)</h2>")
        if not b.reasons:
            h.append("<p class='ok'>没有失败的规则 (no rule failed).</p>")
        for rule_id, n in top_rules(b.reasons, len(b.reasons)):
            h.append(self._rule_section(rule_id, n, examples.get(rule_id, []), root="../", with_batch=False))
        return page_html(f"批次 {b.name or b.batch_hash[:12]}", "../", h)

    def _rule_section(
        self, rule_id: str, n: int, examples: Sequence[Mapping[str, Any]], *, root: str, with_batch: bool
    ) -> str:
        desc = RULES[rule_id].description if rule_id in RULES else ""
        h = [
            f"<h3 class='rule' data-rule='{escape(rule_id)}'>{rule_link(rule_id, root)} — "
            f"{n:,} rows</h3><p>{escape(desc)}</p>",
            "<table><tr>" + ("<th>batch</th>" if with_batch else "") + "<th>line</th><th>table</th>"
            "<th>field</th><th>detail</th><th>row (masked)</th></tr>",
        ]
        for e in examples:
            cell = (
                f"<td><a href='{root}batches/{e['batch_hash']}.html'>"
                f"<code>{e['batch_hash'][:12]}</code></a></td>"
                if with_batch
                else ""
            )
            fld = escape(str(e["field"] or "—"))
            h.append(
                f"<tr class='example'>{cell}<td class='num'>{escape(str(e['line']))}</td>"
                f"<td>{escape(str(e['table'] or '—'))}</td><td><code>{fld}</code></td>"
                f"<td>{escape(e['detail'])}</td><td><code>{escape(e['row'])}</code></td></tr>"
            )
        h.append("</table>")
        return "".join(h)

    def _rule(self, rule_id: str) -> bytes | None:
        counts = {b.batch_hash: b.reasons.get(rule_id, 0) for b in self.batches()}
        total = sum(counts.values())
        if not total and rule_id not in RULES:
            return None
        examples = self._examples(rule_id=rule_id).get(rule_id, [])
        h = [
            f"<h1>规则 rule <code>{escape(rule_id)}</code></h1>",
            self._rule_section(rule_id, total, examples, root="../", with_batch=True),
            "<h2>per batch</h2><table><tr><th>batch</th><th>rows failing</th></tr>",
            *(
                f"<tr><td><a href='../batches/{h_}.html'><code>{h_[:12]}</code></a></td>"
                f"<td class='num'>{n:,}</td></tr>"
                for h_, n in counts.items()
                if n
            ),
            "</table>",
        ]
        return page_html(f"规则 {rule_id}", "../", h)

    def _report(self, batch_hash: str) -> bytes | None:
        recs = self._records(batch_hash)
        if not recs:
            return None
        key = ((recs[0].outcome_doc().get("objects") or {}).get("report") or {}).get("key")
        if not key:
            return None
        return Outputs(self.store).get(Zone.REPORTS, str(key))
