"""Domain events commit with their change; failpoints crash or raise at exact places."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core import events, failpoints
from core.db import Database
from core.errors import FailpointHit


def test_event_is_recorded_with_the_change_or_not_at_all(db: Database) -> None:
    with db.session() as s:
        events.record_event(s, "license.issued", "license", "L1", {"status": "01"})
    with pytest.raises(RuntimeError), db.session() as s:
        events.record_event(s, "license.issued", "license", "L2", {"status": "01"})
        raise RuntimeError("rolled back")
    with db.session() as s:
        got = events.events_after(s, 0)
        assert [(e.aggregate_id, e.data["status"]) for e in got] == [("L1", "01")]
        assert events.events_after(s, got[-1].id) == []
        assert events.events_after(s, 0, kinds=["license.status_changed"]) == []


def test_failpoint_raise_fires_only_when_enabled() -> None:
    name = failpoints.declare("test.raise_point", "a point for this test")
    failpoints.hit(name)  # disabled: nothing happens
    failpoints.enable(name, "raise")
    try:
        with pytest.raises(FailpointHit):
            failpoints.hit(name)
    finally:
        failpoints.disable(name)
    failpoints.hit(name)
    assert "test.raise_point" in failpoints.declared()


def test_failpoint_on_nth_pass() -> None:
    failpoints.enable("test.nth", "3*raise")
    try:
        failpoints.hit("test.nth")
        failpoints.hit("test.nth")
        with pytest.raises(FailpointHit):
            failpoints.hit("test.nth")
        failpoints.hit("test.nth")
    finally:
        failpoints.disable("test.nth")


def test_failpoint_crash_kills_a_child_process_from_the_environment(tmp_path) -> None:
    marker = tmp_path / "after"
    code = (
        "from core import failpoints\n"
        "failpoints.hit('x.before')\n"
        "failpoints.hit('x.crash_here')\n"
        f"open({str(marker)!r}, 'w').write('reached')\n"
    )
    env = {**os.environ, "TONGBAN_FAILPOINTS": "x.crash_here=crash"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == failpoints.CRASH_EXIT_CODE
    assert "failpoint x.crash_here" in proc.stderr
    assert not marker.exists()
    env["TONGBAN_FAILPOINTS"] = ""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and marker.read_text() == "reached"


def test_unknown_failpoint_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown failpoint action"):
        failpoints.enable("x", "explode")
