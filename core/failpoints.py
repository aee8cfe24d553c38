"""Named failpoints: reproducible crashes at exact places.

Code declares a point and passes through it::

    OUTBOX_AFTER_SEND = declare("outbox.after_send_before_mark", "peer has the rows, outbox not marked")
    ...
    hit(OUTBOX_AFTER_SEND)

Tests switch a point on, in-process with :func:`enable` or for a child process with the
environment variable ``TONGBAN_FAILPOINTS="name=action[,name=action]"``. Actions: ``crash``
(``os._exit(137)``, like a killed worker), ``raise`` (:class:`~core.errors.FailpointHit`),
``sleep:<ms>``; prefix ``N*`` to fire on the N-th pass only (``3*crash``). Off by default; a pass
through a disabled point costs one dict lookup.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field

from core.errors import FailpointHit

ENV = "TONGBAN_FAILPOINTS"
CRASH_EXIT_CODE = 137


@dataclass
class _Action:
    kind: str  # crash | raise | sleep
    on_pass: int | None = None
    sleep_ms: int = 0
    passes: int = field(default=0)


_declared: dict[str, str] = {}
_active: dict[str, _Action] = {}
_lock = threading.Lock()
_env_loaded: str | None = None


def declare(name: str, description: str) -> str:
    """Declare a failpoint (at import of the module that owns it) and return its name."""
    _declared[name] = description
    return name


def declared() -> dict[str, str]:
    """Every declared failpoint with its description."""
    return dict(_declared)


def _parse(spec: str) -> _Action:
    on_pass = None
    if "*" in spec:
        count, spec = spec.split("*", 1)
        on_pass = int(count)
    if spec.startswith("sleep:"):
        return _Action("sleep", on_pass, int(spec.split(":", 1)[1]))
    if spec not in ("crash", "raise"):
        raise ValueError(f"unknown failpoint action {spec!r}: use crash, raise or sleep:<ms>")
    return _Action(spec, on_pass)


def enable(name: str, action: str = "raise") -> None:
    with _lock:
        _active[name] = _parse(action)


def disable(name: str | None = None) -> None:
    """Switch one failpoint off, or all of them."""
    with _lock:
        if name is None:
            _active.clear()
        else:
            _active.pop(name, None)


def _load_env() -> None:
    global _env_loaded
    spec = os.environ.get(ENV, "")
    if spec == _env_loaded:
        return
    with _lock:
        _env_loaded = spec
        for item in filter(None, (s.strip() for s in spec.split(","))):
            name, _, action = item.partition("=")
            _active[name.strip()] = _parse(action.strip() or "crash")


def hit(name: str) -> None:
    """Pass through a failpoint: does nothing unless it is enabled."""
    _load_env()
    if not _active:
        return
    action = _active.get(name)
    if action is None:
        return
    with _lock:
        action.passes += 1
        if action.on_pass is not None and action.passes != action.on_pass:
            return
    if action.kind == "sleep":
        time.sleep(action.sleep_ms / 1000)
    elif action.kind == "raise":
        raise FailpointHit(f"failpoint {name} reached", code="FAILPOINT")
    else:
        sys.stderr.write(f"failpoint {name}: crashing the process\n")
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)
