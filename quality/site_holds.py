"""The data-quality site's page of cases held by their materials (``holds.html``, issue 18).

Rows of ``case_materials`` (:mod:`core.casematerials`) that keep a case from issuance and need a
person: e-license references (电子证照免提交) that did not pass — each with its reason
(``license_ref.*``, :data:`contracts.rules.INTAKE_RULES`) and a detail — and 容缺 materials whose
supply date passed unsupplied (``material.supply_missed``). Nothing on it is citizen data (case
numbers, material names, license identifiers, dates); details go through
:func:`core.masking.redact_text` all the same.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from contracts.rules import INTAKE_RULES, MATERIAL_SUPPLY_MISSED
from core.casematerials import LICENSE_REF, open_holds
from core.db import Database
from core.masking import redact_text
from quality.site_pages import page_html

LIMIT = 2000


def holds_page(db: Database) -> bytes:
    with db.session() as s:
        holds = open_holds(s, limit=LIMIT)
    reasons = Counter(str(m.reason) if m.kind == LICENSE_REF else MATERIAL_SUPPLY_MISSED for m in holds)
    h = [
        "<h1>材料挂起 cases held by their materials</h1>",
        f"<p id='holds-total'>{len(holds):,} held: "
        + (", ".join(f"<code>{escape(r)}</code> {n}" for r, n in sorted(reasons.items())) or "none")
        + "</p>",
        "<table id='holds'><tr><th>case</th><th>material</th><th>reason</th><th>detail</th>"
        "<th>license / supply by</th><th>since (UTC)</th></tr>",
    ]
    for m in holds:
        rid = str(m.reason) if m.kind == LICENSE_REF else MATERIAL_SUPPLY_MISSED
        rule = INTAKE_RULES.get(rid)
        detail = m.detail if m.kind == LICENSE_REF else f"补正期限 {m.supply_by} 已过，材料未补正"
        h.append(
            f"<tr class='hold' data-reason='{escape(rid)}'><td>{escape(m.project_no)}</td>"
            f"<td>{escape(m.material_name)}</td>"
            f"<td><code title='{escape(rule.description if rule else '')}'>{escape(rid)}</code></td>"
            f"<td>{escape(redact_text(detail or ''))}</td>"
            f"<td>{escape(str(m.license_ref or m.supply_by or ''))}</td>"
            f"<td>{escape((m.missed_at or m.updated_at)[:19])}</td></tr>"
        )
    h.append("</table>")
    return page_html("材料挂起 held cases", "", h)
