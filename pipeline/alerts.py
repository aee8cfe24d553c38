"""Task failures: one ledger entry (stream ``pipeline.failures``), one log line, and a POST to
``settings.failure_webhook_url`` when set (JSON, 5 s timeout; a webhook that fails is logged, never
raised — a failure callback must not fail).
"""

from __future__ import annotations

import logging
from typing import Any

from core import ledger
from core.masking import redact_text
from core.settings import Settings

FAILURE_STREAM = "pipeline.failures"
log = logging.getLogger("tongban.pipeline")


def record_task_failure(
    settings: Settings,
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int | None,
    error: BaseException | str | None,
    map_index: int | None = None,
) -> dict[str, Any]:
    """Record one failed task try; returns the payload written."""
    from core.runtime import shared_database

    text = redact_text(
        f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error or "")
    )
    code = getattr(error, "code", None)
    payload: dict[str, Any] = {
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "try_number": try_number,
        "map_index": map_index,
        "error_code": code if isinstance(code, str) else None,
        "error": text[:1000],
    }
    log.error(
        "task failed: %s.%s[%s] run %s try %s: %s", dag_id, task_id, map_index, run_id, try_number, text[:300]
    )
    try:
        with shared_database(settings).session() as s:
            ledger.append(s, FAILURE_STREAM, "task.failed", payload)
    except Exception:
        log.exception("could not record the task failure in the ledger")
    url = settings.failure_webhook_url
    if url:
        try:
            import httpx

            httpx.post(url, json={"event": "tongban.task_failed", **payload}, timeout=5.0).raise_for_status()
            payload["webhook"] = "sent"
        except Exception as exc:
            log.warning("failure webhook %s did not accept the alert: %s", url, exc)
            payload["webhook"] = "failed"
    return payload
