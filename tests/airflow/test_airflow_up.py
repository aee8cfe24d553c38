"""``./run airflow`` (``tongban airflow up``) as a newcomer meets it: after a small demo, the local
Airflow starts on the demo's data with the sandbox peers and their Connections, a headless Chromium
logs in with the printed password and finds the pipeline DAGs (with the demo's runs) and the
``tongban`` Connections; Ctrl-C (SIGINT) stops everything it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.net import free_port

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
PIPELINE_DAGS = ("county_cases_ingest", "case_quality", "case_push_province", "license_issue", "sla_monitor")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_the_airflow_ui_shows_the_demo_after_login(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium is required at {CHROMIUM} (./run installs it)")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "TONGBAN_")) or k == "TONGBAN_LOG_LEVEL"
    }
    env.update(
        {"TONGBAN_DATA_DIR": str(tmp_path / "var"), "TONGBAN_DEMO_CASES": "40", "TONGBAN_DEMO_VERIFY": "5"}
    )
    demo = subprocess.run(
        [sys.executable, "-m", "tongban", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    port = free_port()
    log = (tmp_path / "up.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tongban", "airflow", "up", "--port", str(port), "--no-demo"],
        env={**env, "COLUMNS": "200"},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 400
        password = None
        while password is None:
            assert proc.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()[-3000:]
            m = re.search(r"login\s+admin / (\S+)", (tmp_path / "up.log").read_text())
            password = m.group(1) if m else None
            time.sleep(1)
        base = f"http://127.0.0.1:{port}"
        with playwright.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(base + "/")
                page.wait_for_url(re.compile(r".*/auth/login.*"), timeout=60_000)  # deny unless logged in
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", password)
                page.keyboard.press("Enter")
                page.wait_for_url(re.compile(rf"{re.escape(base)}/(?!auth).*"), timeout=60_000)
                page.goto(base + "/dags?limit=50")
                for dag_id in PIPELINE_DAGS:
                    page.get_by_text(dag_id, exact=True).first.wait_for(timeout=60_000)
                page.screenshot(path=str(tmp_path / "dags.png"))
                page.goto(base + "/dags/license_issue/runs")
                page.get_by_text("success").first.wait_for(timeout=60_000)  # the demo's dag.test() run
                page.goto(base + "/connections")
                page.get_by_text("tongban_province", exact=True).first.wait_for(timeout=60_000)
            finally:
                browser.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends
        proc.wait(timeout=120)
    out = (tmp_path / "up.log").read_text()
    assert "stopping" in out
    left = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "var" / "airflow")], capture_output=True, text=True, check=False
    )
    assert left.stdout.strip() == "", f"processes left behind: {left.stdout}"
