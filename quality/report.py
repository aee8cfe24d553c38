"""The data-quality report of one batch: a self-contained HTML page (no scripts, no external
resources) for the integration engineer: counts, pass rate per rule, a bar chart of failures by
rule (inline SVG), and sample failing rows with citizen identifiers masked
(``5101**********1238``, names to the family name; every other value through
:func:`core.masking.redact_text`).

Public API::

    SENSITIVE_COLUMNS                       # masked with mask_id / mask_name
    mask_row(row) -> dict                   # a row safe to show
    render_report(doc) -> bytes             # doc: see render_report's docstring
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from contracts.rules import RULES
from core.masking import mask_id, mask_name, redact_text

ID_COLUMNS = frozenset({"applyer_id", "CZZTDM"})
NAME_COLUMNS = frozenset({"applyer_name", "CZZT", "handler"})
SENSITIVE_COLUMNS = ID_COLUMNS | NAME_COLUMNS


def _text(value: Any) -> str:
    if value is None:
        return "null"
    return redact_text(value if isinstance(value, str) else repr(value))


def mask_row(row: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in row.items():
        key = redact_text(str(k))
        if k in ID_COLUMNS and isinstance(v, str):
            out[key] = mask_id(v)
        elif k in NAME_COLUMNS and isinstance(v, str):
            out[key] = mask_name(v)
        else:
            out[key] = _text(v)
    return out


def _chart(failures: Sequence[tuple[str, int]]) -> str:
    if not failures:
        return '<p class="ok">没有失败的规则 (no rule failed).</p>'
    bar_h, gap, label_w, width = 18, 6, 260, 420
    top = max(n for _, n in failures) or 1
    height = len(failures) * (bar_h + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 80}" height="{height}" '
        'role="img" aria-label="failures by rule">'
    ]
    for i, (rule_id, n) in enumerate(failures):
        y = gap + i * (bar_h + gap)
        w = max(1, round(width * n / top))
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end" font-size="12">'
            f"{escape(rule_id)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#c0392b">'
            f"<title>{escape(rule_id)}: {n}"
            f'</title></rect><text x="{label_w + w + 4}" y="{y + bar_h - 5}" font-size="12">{n}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:left}
th{background:#eee}.num{text-align:right}.bad{color:#c0392b}.ok{color:#1e8449}code{font-size:12px}
"""


def render_report(doc: Mapping[str, Any]) -> bytes:
    """Render the report. ``doc`` keys: batch_hash, name, validated_at, suite_version, suite_hash,
    counts (rows, curated, held, quarantined, released, expired), file_quarantined, fault,
    rule_stats {rule_id: {"checked", "failed"}}, held_reasons, flags, samples
    [{"line", "table", "reasons": [{"rule_id","field"}], "row": {...} or "raw": str}]."""
    counts = doc.get("counts", {})
    stats: Mapping[str, Mapping[str, int]] = doc.get("rule_stats", {})
    failures = sorted(
        ((r, s["failed"]) for r, s in stats.items() if s.get("failed")), key=lambda x: (-x[1], x[0])
    )
    rows = counts.get("rows", 0)
    h: list[str] = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>数据质量报告 {escape(str(doc.get('batch_hash', ''))[:12])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>数据质量报告 (data-quality report)</h1>",
        "<table>",
    ]
    for label, value in (
        ("批次哈希 batch SHA-256", doc.get("batch_hash")),
        ("文件 file", doc.get("name") or "-"),
        ("校验时间 validated at", doc.get("validated_at")),
        ("规则集 suite", f"{doc.get('suite_version')} ({str(doc.get('suite_hash', ''))[:16]}…)"),
    ):
        h.append(f"<tr><th>{escape(label)}</th><td><code>{escape(str(value))}</code></td></tr>")
    h.append("</table><h2>计数 counts</h2><table><tr>")
    names = ("rows", "curated", "held", "quarantined", "released", "expired")
    h.extend(f"<th>{n}</th>" for n in names)
    h.append("</tr><tr>")
    h.extend(f"<td class='num'>{int(counts.get(n, 0))}</td>" for n in names)
    h.append("</tr></table>")
    rate = (counts.get("curated", 0) + counts.get("held", 0)) / rows if rows else 1.0
    h.append(f"<p>通过率 pass rate (curated + held) / rows: <b>{rate:.2%}</b></p>")
    if doc.get("file_quarantined"):
        fault = doc.get("fault") or {}
        h.append(
            "<p class='bad'><b>整个文件被隔离 (whole file quarantined)</b>: "
            f"line {escape(str(fault.get('line')))}, byte offset {escape(str(fault.get('byte_offset')))}: "
            f"{escape(redact_text(str(fault.get('message', ''))))}</p>"
        )
    h.append(
        "<h2>按规则统计 per rule</h2><table><tr><th>rule</th><th>description</th><th>checked</th>"
        "<th>failed</th><th>pass rate</th></tr>"
    )
    for rule_id in sorted(stats):
        s = stats[rule_id]
        checked, failed = int(s.get("checked", 0)), int(s.get("failed", 0))
        pr = (checked - failed) / checked if checked else 1.0
        desc = RULES[rule_id].description if rule_id in RULES else ""
        cls = "bad" if failed else ""
        h.append(
            f"<tr class='{cls}'><td><code>{escape(rule_id)}</code></td><td>{escape(desc)}</td>"
            f"<td class='num'>{checked}</td><td class='num'>{failed}</td><td class='num'>{pr:.2%}</td></tr>"
        )
    h.append("</table><h2>失败分布 failures by rule</h2>")
    h.append(_chart(failures))
    for title, key in (("暂存原因 held", "held_reasons"), ("标记 flags", "flags")):
        extra = doc.get(key) or {}
        if extra:
            items = "".join(f"<li><code>{escape(k)}</code>: {v}</li>" for k, v in sorted(extra.items()))
            h.append(f"<h3>{title}</h3><ul>{items}</ul>")
    samples = doc.get("samples") or []
    if samples:
        h.append(f"<h2>失败样例 sample failing rows ({len(samples)})</h2>")
        h.append(
            "<p>公民身份号码已脱敏 (citizen identifiers masked).</p><table><tr><th>line</th><th>table</th>"
            "<th>reasons</th><th>row</th></tr>"
        )
        for s in samples:
            reasons = ", ".join(
                f"{r.get('rule_id')}" + (f" ({r.get('field')})" if r.get("field") else "")
                for r in s.get("reasons", [])
            )
            if isinstance(s.get("row"), Mapping):
                cells = "; ".join(f"{k}={v}" for k, v in mask_row(s["row"]).items())
            else:
                cells = redact_text(str(s.get("raw", "")))[:300]
            h.append(
                f"<tr><td class='num'>{escape(str(s.get('line')))}</td>"
                f"<td>{escape(str(s.get('table') or '-'))}</td>"
                f"<td><code>{escape(reasons)}</code></td><td><code>{escape(cells)}</code></td></tr>"
            )
        h.append("</table>")
    h.append("</body></html>")
    return "".join(h).encode("utf-8")
