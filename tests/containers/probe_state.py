"""Run inside a tongban container (``python - < probe_state.py``): the end state of the pipeline
read back with the deployment's own settings — PostgreSQL, the S3 store, the PKCS#11 token and the
province over SOAP — as one JSON line. The container tier compares it with the generator's files.
"""

from __future__ import annotations

import base64
import json
import sys

from sqlalchemy import func, select

from core.health import HEARTBEAT_STREAM
from pipeline import FlowContext
from pipeline.models import AWAITING, ISSUED, Approval, CaseLicense
from pipeline.summary import collect


def main() -> None:
    from core import ledger
    from core.runtime import current_settings
    from licenses.models import LicenseRecord

    ctx = FlowContext(current_settings())
    figures = collect(ctx, verify_limit=None)  # every license verified from the store
    with ctx.db.session() as s:
        cases = {c.project_no: (c.state, c.license_id) for c in s.scalars(select(CaseLicense))}
        with_approval = sorted({a.project_no for a in s.scalars(select(Approval))})
        beats = sum(1 for e in ledger.entries(s, HEARTBEAT_STREAM) if "airflow:" in e.payload)
        licenses = int(s.scalar(select(func.count()).select_from(LicenseRecord)) or 0)
        issued = [c for c in cases.values() if c[0] == ISSUED and c[1]]
    one_pdf = None
    if issued:
        view = ctx.licenses.get(str(issued[0][1]), history=False)
        one_pdf = {
            "license_id": issued[0][1],
            "type_code": view.type_code,
            "issuer_code": view.issuer_code,
            "pdf": base64.b64encode(ctx.store.get_bytes("licenses", view.object_key)).decode(),
        }
    doc = {
        "figures": figures,
        "cases": {k: list(v) for k, v in cases.items()},
        "with_approval": with_approval,
        "awaiting_state": AWAITING,
        "issued_state": ISSUED,
        "heartbeats": beats,
        "license_records": licenses,
        "database": ctx.db.url.split(":", 1)[0],
        "store": type(ctx.store).__name__,
        "keys": ctx.settings.keys.backend,
        "one_license": one_pdf,
    }
    ctx.close()
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")


main()
