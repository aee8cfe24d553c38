"""The README's pictures, made from a demo run so they stay true: ``tongban docs pictures``.

From the demo's data dir (``<data dir>/demo``; the demo runs first when there is none, or with
``--fresh``) it writes PNG files, each under :data:`MAX_BYTES`, into ``docs/pictures/``:

* ``license.png``      the exported license (``pdftoppm``, poppler-utils)
* ``copy.png``         its annotated copy (加注件)
* ``verify-page.png``  the verify page of that license in headless Chromium, served by
                       ``tongban api serve`` on a loopback port
* ``dq-site.png``      the data-quality site's index; ``dq-batch.png`` one batch's page
* ``dag-graph.png``    the DAGs, their tasks and the assets between them, drawn from the DAG
                       structure Airflow parses (DagBag) as an SVG page, shot in Chromium

Chromium is Debian's (``/usr/bin/chromium``) driven by playwright, as in the browser tests.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.net import free_port as _free_port

CHROMIUM = "/usr/bin/chromium"
MAX_BYTES = 200_000
PICTURES = ("license.png", "copy.png", "verify-page.png", "dq-site.png", "dq-batch.png", "dag-graph.png")
_BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"]


def shrink(png: bytes, limit: int = MAX_BYTES) -> bytes:
    """The picture as a palette PNG (128 colours), scaled down until it is under ``limit`` bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        img = im.convert("RGB")
    scale = 1.0
    while True:
        w, h = max(1, int(img.width * scale)), max(1, int(img.height * scale))
        frame = img if scale == 1.0 else img.resize((w, h), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        frame.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
        if out.tell() < limit or scale < 0.2:
            return out.getvalue()
        scale *= 0.85


def pdf_png(pdf: Path, dpi: int = 80) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "page"
        argv = ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", "1", "-l", "1", str(pdf), str(base)]
        subprocess.run(argv, check=True)  # noqa: S603 - our own argv (poppler-utils on PATH)
        return base.with_suffix(".png").read_bytes()


@contextlib.contextmanager
def api_server(data_dir: Path) -> Iterator[str]:
    """``tongban api serve`` on the demo's data dir on a free loopback port; yields the base URL."""
    import httpx

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env.update(
        {
            "TONGBAN_DATA_DIR": str(data_dir),
            "TONGBAN_LOG_LEVEL": "WARNING",
            "TONGBAN_API__WEBHOOK_INTERVAL_S": "0",
            "TONGBAN_API__ANCHOR_INTERVAL_S": "0",
        }
    )
    proc = subprocess.Popen(  # noqa: S603 - our own argv
        [sys.executable, "-m", "tongban", "api", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"the API did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _assets(cond: Any) -> list[str]:
    """The asset names of a schedule's condition (an asset, or any/all of them, nested)."""
    if cond is None:
        return []
    if hasattr(cond, "objects"):
        return [name for part in cond.objects for name in _assets(part)]
    if hasattr(cond, "iter_assets") and not hasattr(cond, "uri"):
        out = []
        for item in cond.iter_assets():
            out += _assets(item[1] if isinstance(item, tuple) else item)
        return out
    return [str(cond.name)] if hasattr(cond, "name") else []


def dag_structure(data_dir: Path) -> list[dict[str, Any]]:
    """Every DAG as Airflow parses it: id, schedule, tasks in order with their upstreams, the
    assets it produces and the assets it is scheduled on."""
    from tongban import airflow_env

    airflow_env.prepare(data_dir)
    bag = airflow_env.load_dagbag()
    out = []
    for dag_id, dag in sorted(bag.dags.items()):
        consumes = sorted(set(_assets(getattr(dag.timetable, "asset_condition", None))))
        produces = sorted({str(getattr(o, "name", o)) for t in dag.tasks for o in t.outlets})
        tt = dag.timetable
        cron = dag.schedule if isinstance(dag.schedule, str) else getattr(tt, "summary", None)
        cron = cron or getattr(tt, "_expression", None)
        schedule = " or ".join(x for x in ("assets" if consumes else "", str(cron or "")) if x) or "manual"
        schedule = schedule.replace("Asset or ", "")
        tasks = [(t.task_id, sorted(t.upstream_task_ids)) for t in dag.topological_sort()]
        out.append(
            {
                "dag_id": dag_id,
                "schedule": schedule,
                "consumes": consumes,
                "produces": produces,
                "tasks": tasks,
            }
        )
    return out


def dag_graph_html(dags: list[dict[str, Any]]) -> str:
    """An SVG page: DAGs in columns by asset depth, their tasks inside, arrows for the assets."""
    by_id = {d["dag_id"]: d for d in dags}
    producers: dict[str, list[str]] = {}
    for d in dags:
        for a in d["produces"]:
            producers.setdefault(a, []).append(d["dag_id"])
    depth: dict[str, int] = {}

    def level(dag_id: str, seen: frozenset[str] = frozenset()) -> int:
        if dag_id in depth:
            return depth[dag_id]
        ups = [p for a in by_id[dag_id]["consumes"] for p in producers.get(a, []) if p not in seen]
        depth[dag_id] = 1 + max((level(p, seen | {dag_id}) for p in ups), default=-1)
        return depth[dag_id]

    for d in dags:
        level(d["dag_id"])
    columns: dict[int, list[str]] = {}
    for dag_id in sorted(by_id, key=lambda k: (depth[k], k)):
        columns.setdefault(depth[dag_id], []).append(dag_id)
    box_w, col_gap, row_gap, line_h, head_h = 300.0, 100.0, 26.0, 17.0, 44.0
    pos: dict[str, tuple[float, float, float]] = {}  # x, y, height
    height = 0.0
    for col, ids in columns.items():
        y = 60.0
        for dag_id in ids:
            h = head_h + line_h * len(by_id[dag_id]["tasks"]) + 12
            pos[dag_id] = (30 + col * (box_w + col_gap), y, h)
            y += h + row_gap
        height = max(height, y)
    width = 30 + len(columns) * (box_w + col_gap)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + 20}' "
        "font-family='DejaVu Sans, WenQuanYi Zen Hei, sans-serif'>",
        "<defs><marker id='arr' markerWidth='10' markerHeight='8' refX='9' refY='4' orient='auto'>"
        "<path d='M0,0 L10,4 L0,8 z' fill='#1f618d'/></marker></defs>",
        "<text x='30' y='32' font-size='18' font-weight='bold'>tongban DAGs — tasks, and the assets "
        "that trigger the next DAG</text>",
    ]
    for d in dags:
        x, y, _ = pos[d["dag_id"]]
        for a in d["consumes"]:
            for p in producers.get(a, []):
                px, py, ph = pos[p]
                x1, y1, x2, y2 = px + box_w, py + ph / 2, x, y + 22
                mx = (x1 + x2) / 2
                parts.append(
                    f"<path d='M{x1},{y1} C{mx},{y1} {mx},{y2} {x2 - 2},{y2}' fill='none' "
                    "stroke='#1f618d' stroke-width='1.6' marker-end='url(#arr)'/>"
                    f"<text x='{x2 - 4}' y='{y2 - 6 - 11 * d['consumes'].index(a)}' font-size='10' "
                    "text-anchor='end' fill='#1f618d'>"
                    f"{html.escape(a.removeprefix('tongban://'))}</text>"
                )
    for d in dags:
        x, y, h = pos[d["dag_id"]]
        parts.append(
            f"<rect x='{x}' y='{y}' width='{box_w}' height='{h}' rx='8' fill='#fbfcfc' stroke='#566573'/>"
            f"<rect x='{x}' y='{y}' width='{box_w}' height='{head_h - 8}' rx='8' fill='#d6eaf8'/>"
            f"<text x='{x + 10}' y='{y + 17}' font-size='13' font-weight='bold'>"
            f"{html.escape(d['dag_id'])}</text>"
            f"<text x='{x + 10}' y='{y + 31}' font-size='10' fill='#555'>schedule: "
            f"{html.escape(d['schedule'])}</text>"
        )
        for i, (task_id, ups) in enumerate(d["tasks"]):
            ty = y + head_h + 6 + i * line_h
            mark = "↳ " if ups else "● "
            parts.append(
                f"<text x='{x + 14}' y='{ty}' font-size='11'>{mark}{html.escape(task_id)}"
                + (
                    f"<tspan fill='#888' font-size='9'>  ← {html.escape(', '.join(ups))}</tspan>"
                    if ups
                    else ""
                )
                + "</text>"
            )
    parts.append("</svg>")
    return "<!doctype html><html><body style='margin:0;background:#fff'>" + "".join(parts) + "</body></html>"


def _shoot(page: Any, url: str, *, full_page: bool = False) -> bytes:
    page.goto(url)
    page.wait_for_load_state()
    shot: bytes = page.screenshot(full_page=full_page)
    return shot


def make_pictures(demo_dir: Path, out_dir: Path) -> dict[str, int]:
    """Write every picture of :data:`PICTURES` into ``out_dir``; returns name -> bytes."""
    from playwright.sync_api import sync_playwright
    from sqlalchemy import select

    from core.settings import Settings
    from licenses.models import LicenseRecord
    from quality.site import QualitySite

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Debian chromium is required at {CHROMIUM} (./run installs it)")
    exports = demo_dir / "exports"
    licenses = sorted(exports.glob("license-*.pdf"))
    copies = sorted(exports.glob("copy-*.pdf"))
    site_index = demo_dir / "quality-site" / "index.html"
    if not (licenses and copies and site_index.is_file()):
        raise RuntimeError(f"{demo_dir} has no exported license, copy or data-quality site: run the demo")
    out_dir.mkdir(parents=True, exist_ok=True)
    pictures: dict[str, bytes] = {
        "license.png": pdf_png(licenses[0]),
        "copy.png": pdf_png(copies[0]),
    }
    settings = Settings(data_dir=demo_dir)
    batches = QualitySite(settings).batches()
    license_no = licenses[0].stem.removeprefix("license-")
    from core.runtime import open_database

    db = open_database(settings)  # the holder columns are sealed: the key store opens them
    try:
        with db.session() as s:
            rec = s.scalars(select(LicenseRecord).where(LicenseRecord.license_no == license_no)).first()
            if rec is None:
                raise RuntimeError(f"license {license_no} is not in {demo_dir}'s registry")
            license_id, code = rec.license_id, rec.verify_code
    finally:
        db.dispose()
    graph = demo_dir / "dag-graph.html"
    graph.write_text(dag_graph_html(dag_structure(demo_dir.parent)), encoding="utf-8")
    with api_server(demo_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=_BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            pictures["verify-page.png"] = _shoot(
                page, f"{base}/verify/{license_id}?code={code}", full_page=True
            )
            page.set_viewport_size({"width": 1300, "height": 420})
            pictures["dq-site.png"] = _shoot(page, site_index.as_uri(), full_page=True)
            if batches:
                page.set_viewport_size({"width": 1300, "height": 1000})
                batch_page = demo_dir / "quality-site" / "batches" / f"{batches[0].batch_hash}.html"
                pictures["dq-batch.png"] = _shoot(page, batch_page.as_uri())
            page.set_viewport_size({"width": 1200, "height": 300})
            pictures["dag-graph.png"] = _shoot(page, graph.as_uri(), full_page=True)
        finally:
            browser.close()
    sizes: dict[str, int] = {}
    for name in PICTURES:
        data = shrink(pictures[name])
        (out_dir / name).write_bytes(data)
        sizes[name] = len(data)
    return sizes
