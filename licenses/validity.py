"""A license's period of validity (有效期, DOMAIN.md §3) judged at a moment.

License dates are Asia/Shanghai calendar dates and both ends are included: a license whose end of
validity (有效期截止日期, ``ZZYXQJZRQ``) is 2024-01-01 is valid through that day and expired from
2024-01-02 on; no end date (``长期``) never expires. A moment before the start of validity
(``ZZYXQQSRQ``) or before the license was signed is "not yet valid".

Public API::

    judgement_moment(text) -> datetime          # "YYYY-MM-DD" (end of that day, Asia/Shanghai) or ISO 8601
    validity_problem(valid_from, valid_until, at, *, signed_at=None) -> (reason, note) | None
    LICENSE_EXPIRED, NOT_YET_VALID                # its reasons
    status_at(history, at) -> str | None        # the registry status in force at a moment
    ended_before(valid_until, day) -> bool
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from licenses import _report as R
from licenses.errors import LicenseError

CN_TZ = ZoneInfo("Asia/Shanghai")
LONG_TERM = "长期"
LICENSE_EXPIRED = R.LICENSE_EXPIRED  # the reasons validity_problem gives (verification reason codes)
NOT_YET_VALID = R.NOT_YET_VALID


class _Entry(Protocol):
    @property
    def to_status(self) -> str: ...
    @property
    def at(self) -> str: ...


def judgement_moment(text: str) -> datetime:
    """The moment a "was it valid then?" question means: a date is the end of that day in
    Asia/Shanghai; a date-time without an offset is Asia/Shanghai time."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max, tzinfo=CN_TZ)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise LicenseError(
            f"核验时点 {text!r} 不是日期（YYYY-MM-DD）或 ISO 8601 时间", code="LICENSE_MOMENT"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CN_TZ)


def _day(value: object) -> date | None:
    if value in (None, "", LONG_TERM):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def ended_before(valid_until: date | str | None, day: date) -> bool:
    """True when the validity ended before ``day`` (the end day itself still counts as valid)."""
    end = valid_until if isinstance(valid_until, date) else _day(valid_until)
    return end is not None and end < day


def validity_problem(
    valid_from: object, valid_until: object, at: datetime, *, signed_at: datetime | None = None
) -> tuple[str, str] | None:
    """``(reason, note)`` when the license is not within its validity at ``at``, else None."""
    day = at.astimezone(CN_TZ).date()
    end = _day(valid_until)
    if end is not None and day > end:
        return (
            R.LICENSE_EXPIRED,
            f"已超过有效期：有效期截止日期 {end.isoformat()}，核验时点 {day.isoformat()}",
        )
    start = _day(valid_from)
    if start is not None and day < start:
        return (
            R.NOT_YET_VALID,
            f"尚未生效：有效期起始日期 {start.isoformat()}，核验时点 {day.isoformat()}",
        )
    if signed_at is not None and signed_at > at:
        signed = signed_at.astimezone(CN_TZ).isoformat(timespec="seconds")
        moment = at.astimezone(CN_TZ).isoformat(timespec="seconds")
        return R.NOT_YET_VALID, f"尚未签发：证照签署于 {signed}，晚于核验时点 {moment}"
    return None


def status_at(history: Iterable[_Entry], at: datetime) -> str | None:
    """The status the history says was in force at ``at`` (None: nothing recorded by then)."""
    current: str | None = None
    for entry in history:
        try:
            when = datetime.fromisoformat(entry.at)
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=CN_TZ)
        if when <= at:
            current = entry.to_status
    return current
