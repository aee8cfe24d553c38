"""The data-quality site (quality.site): written as static HTML by ``tongban quality site``, served
by the sharing API under ``/quality/`` to operators with the ``quality`` grant only, and opened in
headless Chromium (the index, then one batch)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.validators import is_valid_resident_id
from core.settings import Settings
from gateway.clients import add_client
from tests.gateway.conftest import DEPT_A, PURPOSE, TYPE_BIZ
from tests.gateway.test_server import ARTIFACTS, CHROMIUM, _env, _serve

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"]


def _validate_batches(settings: Settings, tmp_path: Path) -> list[dict[str, object]]:
    """Two county batches with planted defects through the real quality gate."""
    from quality.gate import Batch, QualityGate
    from sandbox.generator import GeneratorOptions, write_case_files

    gate = QualityGate(settings)
    out = []
    for i, region in enumerate(("510129", "511825"), start=1):
        path = tmp_path / f"county_{region}-00000000{i}.jsonl"
        write_case_files(path, 320, options=GeneratorOptions(seed=i, bad_ratio=0.1, regions=(region,)))
        outcome = gate.validate_batch(Batch.from_path(path, source=f"county_{region}"))
        assert outcome.quarantined > 0
        out.append(outcome.as_dict())
    return out


@pytest.fixture
def dq_settings(gw_settings: Settings, tmp_path: Path) -> Settings:
    _validate_batches(gw_settings, tmp_path)
    return gw_settings


def _no_resident_id(html: str) -> None:
    leaked = [t for t in re.findall(r"\d{17}[\dX]", html) if is_valid_resident_id(t)]
    assert leaked == []


def test_the_static_site_has_every_batch_rule_and_county(dq_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "tongban", "quality", "site", str(out), "--json"],
        env=_env(dq_settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["batches"] == 2 and Path(doc["index"]) == out / "index.html"
    index = (out / "index.html").read_text(encoding="utf-8")
    from quality.site import QualitySite

    site = QualitySite(dq_settings)
    batches = site.batches()
    assert {b.county for b in batches} == {"510129", "511825"}
    assert {b.source for b in batches} == {"county_510129", "county_511825"}
    assert all(b.receipt == "signed" for b in batches)
    for b in batches:
        assert f"data-hash='{b.batch_hash}'" in index
        page = (out / "batches" / f"{b.batch_hash}.html").read_text(encoding="utf-8")
        assert "id='receipt' class='ok'" in page  # the receipt and every object it names verify
        for rule_id in b.reasons:  # each failed rule, with at least one masked example
            section = page.split(f"data-rule='{rule_id}'")[1].split("<h3")[0]
            assert "class='example'" in section, rule_id
            assert (out / "rules" / f"{rule_id}.html").is_file()
        assert (out / "batches" / b.batch_hash / "report.html").read_bytes().startswith(b"<!doctype html>")
        counts = page.split("id='counts'")[1]
        assert f"{b.rows:,}" in counts and f"{b.quarantined:,}" in counts
    trends = (out / "trends.html").read_text(encoding="utf-8")
    assert "data-county='510129'" in trends and "data-county='511825'" in trends
    for f in out.rglob("*.html"):
        _no_resident_id(f.read_text(encoding="utf-8"))


@pytest.mark.anyio
async def test_only_operators_with_the_quality_grant_see_the_site(
    dq_settings: Settings, make_gateway: Callable[..., Any]
) -> None:
    gw = await make_gateway(settings=dq_settings)
    r = await gw.client.get("/quality/")
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_MISSING"
    share = gw.add_client(roles=["share"])
    r = await gw.client.get("/quality/", headers=await gw.auth(share))
    assert r.status_code == 403 and r.json()["code"] == "ROLE_NOT_GRANTED"
    operator = add_client(gw.db, DEPT_A, roles=["quality"], types=[TYPE_BIZ], purposes=[PURPOSE])
    auth = await gw.auth(operator)
    r = await gw.client.get("/quality/", headers=auth)
    assert r.status_code == 200 and "data-hash=" in r.text
    assert (
        r.headers["cache-control"] == "no-store"
        and "default-src 'none'" in r.headers["content-security-policy"]
    )
    first = re.search(r"href='(batches/[0-9a-f]{64}\.html)'", r.text)
    assert first is not None
    r = await gw.client.get("/quality/" + first.group(1), headers=auth)
    assert r.status_code == 200 and "id='counts'" in r.text
    r = await gw.client.get("/quality/batches/" + "0" * 64 + ".html", headers=auth)
    assert r.status_code == 404
    r = await gw.client.get("/quality/../tongban.db", headers=auth)
    assert r.status_code == 404
    r = await gw.client.get("/quality", headers=auth, follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/quality/"


def test_the_site_in_headless_chromium(dq_settings: Settings, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium is required at {CHROMIUM} (./run installs it)")
    from core.db import Database

    db = Database(dq_settings.db_url)
    try:
        operator = add_client(db, DEPT_A, roles=["quality"], types=[TYPE_BIZ], purposes=[PURPOSE])
    finally:
        db.dispose()
    ARTIFACTS.mkdir(exist_ok=True)
    with _serve(dq_settings, _env(dq_settings)) as base:
        import httpx

        token = httpx.post(
            base + "/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": operator.client_id,
                "client_secret": operator.secret,
            },
        ).json()["access_token"]
        with playwright.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
            try:
                anonymous = browser.new_page()
                response = anonymous.goto(base + "/quality/")
                assert response is not None and response.status == 401
                ctx = browser.new_context(
                    viewport={"width": 1300, "height": 900},
                    extra_http_headers={"Authorization": f"Bearer {token}"},
                )
                page = ctx.new_page()
                page.goto(base + "/quality/")
                rows = page.locator("table#batches tr.batch")
                assert rows.count() == 2
                assert "signed" in rows.first.inner_text()
                page.screenshot(path=str(ARTIFACTS / "quality-site-index.png"), full_page=True)
                rows.first.locator("a").first.click()
                page.wait_for_selector("#counts")
                assert "/quality/batches/" in page.url
                assert page.locator("#receipt").inner_text().startswith("有效")
                assert page.locator("h3.rule").count() >= 1
                assert page.locator("tr.example").count() >= 1
                page.screenshot(path=str(ARTIFACTS / "quality-site-batch.png"), full_page=True)
                page.click("#report")
                page.wait_for_load_state()
                assert page.title().startswith("数据质量报告")
            finally:
                browser.close()
