"""End to end over real HTTP: ``tongban api serve`` on a loopback port, the authorization matrix
against it, the verify page in headless Chromium, and the ``license copy`` / ``audit`` commands."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.jws import sign_compact
from core.net import free_port
from core.runtime import keystore, open_database
from core.settings import Settings
from gateway.clients import add_client
from tests.gateway.conftest import DEPT_A, H1, PURPOSE, TYPE_BIZ, TYPE_FOOD, Issued

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TONGBAN_DATA_DIR": str(settings.data_dir),
            "TONGBAN_KEYS__PASSPHRASE": settings.keys.passphrase.get_secret_value(),  # type: ignore[union-attr]
            "TONGBAN_API__WEBHOOK_INTERVAL_S": "0",
            "TONGBAN_API__ANCHOR_INTERVAL_S": "0",
            "TONGBAN_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def _serve(settings: Settings, env: dict[str, str], *args: str) -> Iterator[str]:
    """``tongban api serve`` on a free loopback port until the block ends; yields the base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tongban", "api", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"server did not start: {out[-2000:]}")
            time.sleep(0.1)
        try:
            yield base
        except Exception:
            proc.terminate()
            out = proc.communicate(timeout=10)[0].decode(errors="replace") if proc.stdout else ""
            print(f"--- server output ---\n{out[-4000:]}")  # shown with the failure
            raise
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def server(gw_settings: Settings, issued: Issued) -> Iterator[tuple[str, Settings]]:
    """``tongban api serve`` in a subprocess; one biz license revoked beforehand (for the page)."""
    from licenses import open_registry

    reg = open_registry(gw_settings)
    reg.transition(issued.biz_h2, "revoke", reason="测试吊销", actor="test")
    reg.db.dispose()
    env = _env(gw_settings, TONGBAN_API__RATE_LIMIT_PER_S="0.001", TONGBAN_API__RATE_LIMIT_BURST="9")
    with _serve(gw_settings, env) as base:
        yield base, gw_settings


def test_metrics_add_up_every_worker(gw_settings: Settings, tmp_path: Path) -> None:
    """With two workers, /metrics (answered by either) counts the requests both of them served."""
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left over from an earlier run")
    env = _env(gw_settings, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    with _serve(gw_settings, env, "--workers", "2") as base:
        sent = 0
        while len({p.name for p in metrics_dir.glob("counter_*.db")}) < 2 and sent < 400:
            # a new connection each time, so the kernel hands requests to either worker
            assert httpx.get(base + "/healthz", headers={"Connection": "close"}, timeout=5).status_code == 200
            sent += 1
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2, "both workers should have served"
        assert not (metrics_dir / "counter_1.db").exists()  # the earlier run's file was cleared
        totals = []
        for _ in range(4):
            text = httpx.get(base + "/metrics", headers={"Connection": "close"}, timeout=5).text
            totals.append(
                sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith("tongban_api_requests_total{") and 'route="/healthz"' in line
                )
            )
    # the /healthz calls made while the server started are counted too, by whichever worker
    assert all(t >= sent + 1 for t in totals), (sent, totals)


def test_authorization_matrix_over_real_http(server: tuple[str, Settings], issued: Issued) -> None:
    base, settings = server

    db = open_database(settings)
    c = add_client(db, DEPT_A, types=[TYPE_BIZ], purposes=[PURPOSE])
    db.dispose()
    with httpx.Client(base_url=base, timeout=30) as http:
        tok = http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.secret},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {tok}"}
        ks = keystore(settings)
        kid, signer = ks.token_signer()
        now = int(time.time())
        expired = sign_compact(
            signer,
            {
                "iss": "tongban",
                "sub": c.client_id,
                "aud": settings.api.audience,
                "iat": now - 600,
                "exp": now - 300,
                "jti": "e" * 32,
            },
            kid=kid,
        )
        body = {"holder_code": H1, "holder_code_type": "001", "purpose": PURPOSE, "use_cause": "办理许可"}

        def search(headers: dict[str, str], **kw: str) -> httpx.Response:
            return http.post("/v1/licenses:search", json={**body, **kw}, headers=headers)

        assert search({}).status_code == 401
        r = search({"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401 and r.json()["code"] == "TOKEN_EXPIRED"
        assert search({"Authorization": f"Bearer {tok[:-3]}AAA"}).status_code == 401
        r = search(auth)
        assert r.status_code == 200 and [x["license_id"] for x in r.json()["licenses"]] == [issued.biz_h1]
        assert search(auth, type_code=TYPE_FOOD).status_code == 403
        assert search(auth, purpose="NOPE").status_code == 403
        assert search(auth, use_cause="").status_code == 422
        assert search(auth, use_cause="长" * 201).status_code == 422
        r = http.get(
            f"/v1/licenses/{issued.biz_h1}", params={"purpose": PURPOSE, "use_cause": "核对"}, headers=auth
        )
        assert r.status_code == 200 and r.json()["use"]["seq"] == 2
        codes = [search(auth).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429], codes  # burst 9: 6 authenticated calls before these
        r = search(auth)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "tongban_api_requests_total" in http.get("/metrics").text
    res = subprocess.run(
        [sys.executable, "-m", "tongban", "audit", "verify", "--json"],
        env=_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    doc = json.loads(res.stdout)
    (chain,) = [ch for ch in doc["chains"] if ch["stream"] == f"use.{c.client_id}"]
    assert res.returncode == 0 and chain["ok"] and chain["entries"] == 5  # 5 allowed calls, 5 entries

    # the documented sandbox client and the example client script work against the real server
    env = _env(settings)
    sandbox = subprocess.run(
        [sys.executable, "-m", "tongban", "api", "client", "sandbox", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert sandbox.returncode == 0, sandbox.stderr
    ex = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "sharing_client.py"),
            "--base",
            base,
            "--holder",
            H1,
            "--out",
            str(settings.data_dir / "copy.pdf"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ex.returncode == 0, ex.stdout + ex.stderr
    assert "2 license(s)" in ex.stdout and "verify: valid=True kind=copy" in ex.stdout, ex.stdout


def test_verify_page_in_headless_chromium(
    server: tuple[str, Settings], issued: Issued, tmp_path: Path
) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium is required at {CHROMIUM} (./run installs it)")
    base, settings = server
    from licenses import open_registry

    reg = open_registry(settings)
    code_h2 = reg.get(issued.biz_h2).verify_code
    reg.db.dispose()
    ARTIFACTS.mkdir(exist_ok=True)
    profile = tmp_path / "chromium-profile"  # a fresh --user-data-dir
    cases = [
        ("valid", f"/verify/{issued.biz_h1}?code={issued.verify_code_biz_h1}", "有效", "valid"),
        ("revoked", f"/verify/{issued.biz_h2}?code={code_h2}", "无效", "not_valid"),
        ("unknown", "/verify/1.2.156.3005.2.nothing?code=ABC", "未找到该证照", "unknown"),
        (
            "qr",
            f"/verify?id={issued.biz_h1}&code={issued.verify_code_biz_h1.replace('-', '')}",
            "有效",
            "valid",
        ),
    ]
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            for name, url, verdict, outcome in cases:
                page.goto(base + url)
                el = page.locator("#verdict")
                assert el.inner_text().startswith(verdict), (name, el.inner_text())
                assert el.get_attribute("data-outcome") == outcome, name
                if outcome != "unknown":
                    assert page.locator("#license-name").inner_text() == "营业执照"
                    assert page.locator("#issuer").inner_text()
                    holder = page.locator("#holder").inner_text()
                    assert "*" in holder and "示例" not in holder  # the name is masked
                assert page.locator("form#upload input[type=file]").count() == 1
                page.screenshot(path=str(ARTIFACTS / f"verify-page-{name}.png"), full_page=True)
            # the upload form runs the full file check
            original = open_registry(settings).file(issued.biz_h1)
            (ARTIFACTS / "license.pdf").write_bytes(original)
            page.goto(base + f"/verify/{issued.biz_h1}?code={issued.verify_code_biz_h1}")
            page.set_input_files("form#upload input[type=file]", str(ARTIFACTS / "license.pdf"))
            page.click("form#upload button[type=submit]")
            page.wait_for_selector("#verdict")
            assert page.locator("#verdict").inner_text() == "有效"
            page.screenshot(path=str(ARTIFACTS / "verify-page-upload.png"), full_page=True)
        finally:
            browser.close()


def test_license_copy_command(gw_settings: Settings, issued: Issued, tmp_path: Path) -> None:
    out = tmp_path / "copy.pdf"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tongban",
            "license",
            "copy",
            issued.biz_h1,
            "--purpose",
            PURPOSE,
            "--cause",
            "办理许可",
            "--to",
            DEPT_A,
            "--until",
            time.strftime("%Y-%m-%d", time.localtime(time.time() + 86400 * 5)),
            "--out",
            str(out),
            "--json",
        ],
        env=_env(gw_settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert out.read_bytes().startswith(b"%PDF-") and doc["recipient"] == DEPT_A
    pdfsig = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True, check=False).stdout
    assert "Signature is Valid." in pdfsig
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tongban",
            "license",
            "copy",
            "1.2.3.none",
            "--purpose",
            PURPOSE,
            "--cause",
            "x",
            "--to",
            DEPT_A,
            "--until",
            "2030-01-01",
            "--out",
            str(out),
        ],
        env=_env(gw_settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1


def _raw(base: str, head: bytes, chunk: int = 65536) -> tuple[bytes, float]:
    """Send ``head`` over a new connection in chunks; (what the server answered, seconds taken)."""
    import socket

    host, port = base.removeprefix("http://").split(":")
    t0 = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            for i in range(0, len(head), chunk):
                sock.sendall(head[i : i + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection while the head was still coming
        got = b""
        with contextlib.suppress(OSError):
            while part := sock.recv(65536):
                got += part
    return got, time.monotonic() - t0


def test_a_request_head_over_64_kib_is_refused_before_login(server: tuple[str, Settings]) -> None:
    """Issue 20: a 32 MB header was read (3.6 s, +60 MB) before any login; now 431 and the
    connection closes after the first 64 KiB. A head of 16 KiB is served."""
    base, _ = server
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (32 * 1024 * 1024) + b"\r\n\r\n"
    answer, _seconds = _raw(base, big)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    ok = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Fine: " + b"b" * 16384 + b"\r\n\r\n"
    answer, _ = _raw(base, ok)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


def test_an_upload_whose_first_read_carries_head_and_body_is_served(server: tuple[str, Settings]) -> None:
    """The head bound counts only reads after which the head is still open: a 200 KiB body sent in
    one piece with its head is not a long head (a 431 here once broke the sharing example)."""
    base, _ = server
    body = b"x" * (200 * 1024)
    head = b"POST /verify/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += b"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(body)
    answer, _ = _raw(base, head + body, chunk=len(head) + len(body))
    assert not answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
