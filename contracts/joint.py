"""Joint-case (联办件) arithmetic: the promise dates of a theme's members and of the joint case.

One application of a theme (一件事, :class:`contracts.catalog.Theme`) is a joint case with its own
number (``up_pro_accept.joint_no``) and one 办件 per member. Members that wait on nobody start at
acceptance; a member that waits on others starts at the latest promise date among them. Each
member's promise date is its ``promise_day``-th working day strictly after its start (DOMAIN.md
§6, :meth:`contracts.calendar.WorkCalendar.add_workdays`); the joint promise date is the latest
of them — the longest path through the members in working days. Doing the members one after
another would take the sum of their promised days; the difference is the working days saved.

Pure: no I/O (the calendar is passed in).

Public API::

    MemberPlan(task_code, start, promise_date, promise_day, provisional, path_days)
    JointPlan(theme_code, accept_date, members, promise_date, provisional, joint_days, sequential_days)
    JointPlan.days_saved -> int ; .member(task_code) -> MemberPlan
    plan_joint(theme, catalog, accept_date, calendar) -> JointPlan
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.calendar import WorkCalendar
from contracts.catalog import Catalog, Theme
from contracts.errors import CatalogError


@dataclass(frozen=True)
class MemberPlan:
    """One member's window: it starts on ``start`` and is promised by ``promise_date``."""

    task_code: str
    start: date
    promise_date: date
    promise_day: int
    provisional: bool = False
    path_days: int = 0  # working days from acceptance to promise_date (its longest path)


@dataclass(frozen=True)
class JointPlan:
    """The promise dates of a joint case accepted on ``accept_date``."""

    theme_code: str
    accept_date: date
    members: tuple[MemberPlan, ...]  # in the theme's dependency order
    promise_date: date  # the latest member promise date
    provisional: bool  # some member date touched a year no calendar source knows
    joint_days: int  # working days of the longest path through the members
    sequential_days: int  # working days were the members done one after another

    @property
    def days_saved(self) -> int:
        """Working days saved against doing the members one after another."""
        return self.sequential_days - self.joint_days

    def member(self, task_code: str) -> MemberPlan:
        for m in self.members:
            if m.task_code == task_code:
                return m
        raise CatalogError(f"service item {task_code!r} is not a member of theme {self.theme_code}")


def plan_joint(theme: Theme, catalog: Catalog, accept_date: date, calendar: WorkCalendar) -> JointPlan:
    """Member and joint promise dates of one application of ``theme`` accepted on ``accept_date``."""
    plans: dict[str, MemberPlan] = {}
    path_days: dict[str, int] = {}
    for code in theme.order():
        member = theme.member(code)
        item = catalog.item(code)
        before = [plans[p] for p in member.after]
        start = max((p.promise_date for p in before), default=accept_date)
        result = calendar.add_workdays(start, item.promise_day)
        path_days[code] = item.promise_day + max((path_days[p] for p in member.after), default=0)
        plans[code] = MemberPlan(
            code,
            start,
            result.date,
            item.promise_day,
            result.provisional or any(p.provisional for p in before),
            path_days[code],
        )
    members = tuple(plans.values())
    return JointPlan(
        theme.theme_code,
        accept_date,
        members,
        max(m.promise_date for m in members),
        any(m.provisional for m in members),
        max(path_days.values()),
        sum(m.promise_day for m in members),
    )
