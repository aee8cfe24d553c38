"""Fixtures for the PKI tests: an initialised PKI on a temporary data dir, openssl, SoftHSM2 tokens, servers.

- ``make_pki(**settings)``: a migrated SQLite data dir with ``Pki.init()`` done (file keys).
- ``pki``: one of those with the defaults.
- ``openssl(*args)``: runs the openssl binary, returns the completed process (never raises).
- ``softhsm_token``: a SoftHSM2 config and token directory of this test's own under ``tmp_path``
  (``SOFTHSM2_CONF`` set for this process and its children, the PKCS#11 library re-initialised so
  it reads it). Fails with the install command when ``softhsm2-util`` is missing.
- ``serve_app(app)``: a real uvicorn server for an ASGI app on a free loopback port, in a thread.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.net import free_port
from core.settings import Settings
from licenses.pki import Pki
from migrations import runner

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


PASSPHRASE = "test-" + uuid.uuid4().hex


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    keys = {"passphrase": PASSPHRASE} | overrides.pop("keys", {})
    return Settings(data_dir=data_dir, keys=keys, **overrides)


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Data dirs made once per session and copied per test: ``migrated`` and ``pki`` (initialised)."""
    base = tmp_path_factory.mktemp("pki-templates")
    migrated = base / "migrated"
    migrated.mkdir()
    runner.upgrade(make_settings(migrated).db_url)
    initialised = base / "pki"
    shutil.copytree(migrated, initialised)
    with Pki(make_settings(initialised)) as pki:
        pki.init()
    return {"migrated": migrated, "pki": initialised}


@pytest.fixture
def make_pki(tmp_path: Path, _templates: dict[str, Path]) -> Iterator[Callable[..., Pki]]:
    """A PKI on a data dir of its own: a copy of the session's initialised one, or (with settings
    overrides, or ``init=False``) a migrated data dir initialised with those settings."""
    made: list[Pki] = []

    def factory(name: str = "var", *, init: bool = True, **overrides: Any) -> Pki:
        settings = make_settings(tmp_path / name, **overrides)
        template = "pki" if init and not overrides else "migrated"
        shutil.copytree(_templates[template], settings.data_path)
        pki = Pki(settings)
        made.append(pki)
        if init and overrides:
            pki.init()
        return pki

    yield factory
    for pki in made:
        pki.close()


@pytest.fixture
def pki(make_pki: Callable[..., Pki]) -> Pki:
    return make_pki()


@pytest.fixture
def openssl() -> Callable[..., subprocess.CompletedProcess[str]]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed: apt-get install openssl (./run installs it)")

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False, timeout=60
        )

    return run


@dataclass(frozen=True)
class SoftHsmToken:
    module: str
    label: str
    pin: str
    conf: Path


@pytest.fixture
def softhsm_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftHsmToken]:
    """A fresh token in a token directory this test owns."""
    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).is_file():
        pytest.fail(
            "SoftHSM2 is not installed (softhsm2-util / libsofthsm2.so missing): "
            "apt-get install softhsm2 (./run installs it)"
        )
    tokens = tmp_path / "softhsm-tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    label, pin = f"tb-{uuid.uuid4().hex[:8]}", "1234-" + uuid.uuid4().hex[:6]
    done = subprocess.run(
        [util, "--init-token", "--free", "--label", label, "--so-pin", "so-" + pin, "--pin", pin],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    import pkcs11

    lib = pkcs11.lib(SOFTHSM_MODULE)
    lib.reinitialize()  # SoftHSM reads SOFTHSM2_CONF (and finds new tokens) at C_Initialize only
    yield SoftHsmToken(SOFTHSM_MODULE, label, pin, conf)


@dataclass
class RunningServer:
    url: str
    server: Any  # uvicorn.Server

    def connection_sockets(self) -> list[socket.socket]:
        """The server side of every open client connection (for socket option checks)."""
        socks = []
        for conn in list(self.server.server_state.connections):
            transport = getattr(conn, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None:
                socks.append(sock)
        return socks


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], RunningServer]]:
    """Start a real uvicorn server for an ASGI app on loopback (stopped at teardown)."""
    import uvicorn

    started: list[tuple[Any, threading.Thread]] = []

    def start(app: Any) -> RunningServer:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.02)
        started.append((server, thread))
        return RunningServer(f"http://127.0.0.1:{port}", server)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(autouse=True)
def _clean_tongban_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TONGBAN_"):
            monkeypatch.delenv(name)
