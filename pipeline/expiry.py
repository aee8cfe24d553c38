"""Flow 7, watch: the end of validity (``license_expiry``, daily, Asia/Shanghai).

Every live license (01 有效, 02 暂扣) whose end of validity (有效期截止日期) is before the day judged
moves to 05 失效 through the lifecycle (operation 04 过期失效: status history, ledger entry
``license.expire`` and the domain event ``license.status_changed`` in one transaction per sweep
batch; :meth:`licenses.LicenseRegistry.expire_due`). The province hears of it through the catalog
flow (:func:`pipeline.catalog.publish`: event cursor and outbox, exactly once in effect), and the
departments that used the license through their webhook subscriptions
(:func:`gateway.webhooks.notify_status_changes`; wired by the DAG, since pipeline and gateway do not
import each other). A license already at 05 is not live, so running the sweep again changes nothing.

The day judged is the run's: ``today`` given (a manual run's conf ``{"today": "YYYY-MM-DD"}``), else
the Asia/Shanghai date of the run's logical date, else today — so a backfill of a missed night
judges that night's day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from core.db import utcnow
from pipeline.context import FlowContext

SWEEP_BATCH = 500


def judgement_day(today: str | None = None, logical_date: datetime | None = None) -> str:
    """The Asia/Shanghai day a run judges (see the module docstring), as ``YYYY-MM-DD``."""
    from licenses.validity import CN_TZ

    if today:
        return date.fromisoformat(str(today)[:10]).isoformat()
    moment = logical_date or utcnow()
    return moment.astimezone(CN_TZ).date().isoformat()


def expire_due(ctx: FlowContext, *, today: str | None = None) -> dict[str, Any]:
    """Move every license past its end of validity to 05 失效; ``{"day", "expired", "license_ids"}``."""
    day = date.fromisoformat(judgement_day(today))
    expired: list[str] = []
    while True:
        batch = ctx.licenses.expire_due(today=day, actor="license_expiry", limit=SWEEP_BATCH)
        expired += batch
        if len(batch) < SWEEP_BATCH:
            break
    return {"day": day.isoformat(), "expired": len(expired), "license_ids": expired[:200]}
