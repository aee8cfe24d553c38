"""The building blocks of the data-quality site's pages (:mod:`quality.site`): the style sheet,
one batch as the index shows it (:class:`BatchSummary`), the page frame, the receipt cell, rule
links and the inline SVG pass-rate chart. Pure: strings in, HTML out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from contracts.regions import REGIONS, region_full_name

__all__ = [
    "CSS",
    "BatchSummary",
    "county_name",
    "page_html",
    "rate_chart",
    "receipt_cell",
    "rule_link",
    "top_rules",
]

CSS = """
body{font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC",sans-serif;margin:1.5em 2em;color:#222}
nav{margin-bottom:1em;font-size:14px}nav a{margin-right:1.2em}
table{border-collapse:collapse;margin:.6em 0 1.4em}
td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:left;vertical-align:top}
th{background:#eee}.num{text-align:right}.bad{color:#c0392b}.ok{color:#1e8449}.warn{color:#b9770e}
code{font-size:12px}h1{font-size:22px}h2{font-size:17px;margin-top:1.4em}
"""


@dataclass(frozen=True)
class BatchSummary:
    """One validated batch as the index shows it."""

    batch_hash: str
    name: str
    source: str  # the peer the batch came from (the report object's source), else ""
    county: str  # 6-digit region code found in the source or name, else ""
    validated_at: str
    rows: int
    curated: int
    held: int
    quarantined: int
    released: int
    expired: int
    file_quarantined: bool
    receipt: str  # signed | invalid | missing (signature and certificate; objects on the batch page)
    receipt_reasons: tuple[str, ...]
    reasons: dict[str, int] = field(default_factory=dict)  # rule -> rows failing it
    report_key: str | None = None

    @property
    def pass_rate(self) -> float:
        return (self.curated + self.held) / self.rows if self.rows else 1.0


def county_name(code: str) -> str:
    if not code:
        return "—"
    return f"{code} {region_full_name(code)}" if code in REGIONS else code


def page_html(title: str, root: str, body: Iterable[str]) -> bytes:
    nav = (
        f"<nav><a href='{root}index.html'>批次 batches</a>"
        f"<a href='{root}trends.html'>趋势 trends per county</a>"
        f"<a href='{root}holds.html'>材料挂起 held cases</a></nav>"
    )
    head = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{nav}"
    )
    return (head + "".join(body) + "</body></html>").encode("utf-8")


def receipt_cell(b: BatchSummary) -> str:
    if b.receipt == "signed":
        return "<span class='ok'>签名有效 signed</span>"
    if b.receipt == "missing":
        return "<span class='warn'>无回执 none</span>"
    return f"<span class='bad' title='{escape('; '.join(b.receipt_reasons))}'>无效 invalid</span>"


def rule_link(rule_id: str, root: str) -> str:
    return f"<a href='{root}rules/{escape(rule_id)}.html'><code>{escape(rule_id)}</code></a>"


def top_rules(reasons: Mapping[str, int], n: int) -> list[tuple[str, int]]:
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def rate_chart(points: Sequence[tuple[str, float]]) -> str:
    """Pass rate per batch as an inline SVG line (0–100 %)."""
    if not points:
        return ""
    w, h, pad = 520, 140, 30
    step = (w - 2 * pad) / max(len(points) - 1, 1)
    xy = [(pad + i * step, h - pad - r * (h - 2 * pad)) for i, (_, r) in enumerate(points)]
    poly = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(
        f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3.5' fill='#1f618d'>"
        f"<title>{escape(t)}: {r:.2%}</title></circle>"
        for (x, y), (t, r) in zip(xy, points, strict=True)
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
        "aria-label='pass rate per batch'>"
        f"<line x1='{pad}' y1='{h - pad}' x2='{w - pad}' y2='{h - pad}' stroke='#999'/>"
        f"<line x1='{pad}' y1='{pad}' x2='{w - pad}' y2='{pad}' stroke='#ddd'/>"
        f"<text x='2' y='{pad + 4}' font-size='10'>100%</text>"
        f"<text x='8' y='{h - pad + 4}' font-size='10'>0%</text>"
        f"<polyline points='{poly}' fill='none' stroke='#1f618d' stroke-width='2'/>{dots}</svg>"
    )
