"""The main job on the embedded defaults: ``./run demo``.

1. a fresh demo data dir (``<data dir>/demo``): migrations, keys, the sample PKI;
2. a county day: ``sandbox.generator`` cases of 大邑县 510129 and 天全县 511825 with planted
   defects, children before their parents and late approval data, split per county;
3. the sandbox peers on loopback ports: the province (SOAP), one county feed per county (天全县 in
   the other vendor's layout) and one department system per county; Connections for them as
   ``AIRFLOW_CONN_*``;
4. the DAGs in order with ``dag.test()``: county_cases_ingest → case_quality → case_push_province →
   department_results_inbound → license_issue → department_results_inbound (status changes for the
   licenses just issued) → county_cases_ingest → case_quality (follow-up 食品经营许可 cases of holders
   of the 营业执照 just issued, their 营业执照 material a reference to that license instead of paper:
   :func:`add_reuse_cases`, issue 18) → case_push_province → license_catalog_sync → sla_monitor →
   license_expiry, with a live progress line read from the database. ``license_expiry`` runs as the
   night after the first end of validity among the issued licenses (:func:`expiry_night`; the
   generated 食品经营许可证 are valid 5 years from their result date), so the demo shows the sweep
   move a license to 05 失效, publish it to the province and count it;
5. a summary from the database, the store and the province (:func:`pipeline.summary.collect`).

The parts (:func:`generate_day`, :func:`start_peers`, :func:`run_pipeline`) are what the Airflow
tests drive too, so the demo's figures are checked against the same code path.

Why one module of this length: it is the main job's steps in the order they run; each step calls
into the packages.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from core.settings import Settings

COUNTIES = ("510129", "511825")
JOINT_RATIO = 0.04  # applications that are a theme (一件事; 大邑县's themes): joint cases (联办件)
VENDOR_B_COUNTY = "511825"
ROWS_PER_CASE = 10.8  # measured mean of the generator for these two counties
DEMO_CASES = 2000  # ~3.5 min on the 2-core machine when idle (README, "Pipeline")
DEMO_VERIFY = (
    200  # licenses re-verified from the store for the summary (every one with TONGBAN_DEMO_VERIFY=0)
)
PIPELINE = (
    "county_cases_ingest",
    "case_quality",
    "case_push_province",
    "department_results_inbound",
    "license_issue",
    "department_results_inbound",
    # the follow-up cases that reuse licenses just issued (电子证照免提交) arrive: add_reuse_cases
    "county_cases_ingest",
    "case_quality",
    "case_push_province",
    "license_catalog_sync",
    "sla_monitor",
    "license_expiry",
)
REUSE_AT = PIPELINE.index("county_cases_ingest", 1) + 1  # the second ingest, 1-based as on_start counts
REUSE_CASES = 12  # follow-up 食品经营许可 cases at most (the last names another holder's license)
BUSINESS_LICENSE = "11100000YL0000012P001"  # 营业执照


# --- the county day -------------------------------------------------------------------------------


@dataclass
class Day:
    folder: Path
    cases: Path
    defects: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    rows_by_county: dict[str, list[dict[str, Any]]]
    generation: dict[str, Any]

    @property
    def rows(self) -> int:
        return sum(len(v) for v in self.rows_by_county.values())


def generate_day(folder: Path, *, rows: int, seed: int = 20261125, bad_ratio: float = 0.05) -> Day:
    """Generate ``rows`` case rows over the demo counties and split them per county."""
    from sandbox.generator import GeneratorOptions, write_case_files

    folder.mkdir(parents=True, exist_ok=True)
    options = GeneratorOptions(seed=seed, bad_ratio=bad_ratio, regions=COUNTIES, joint_ratio=JOINT_RATIO)
    summary = write_case_files(folder / "cases.jsonl", rows, options=options)
    (folder / "generation.json").write_text(json.dumps(summary.as_dict(), ensure_ascii=False))
    return load_day(folder)


def load_day(folder: Path) -> Day:
    """A generated day read back from its files (``cases.jsonl`` and the generator's side files)."""
    from sandbox.generator import approvals_path, defects_path

    out = folder / "cases.jsonl"
    defects = [json.loads(x) for x in defects_path(out).read_text(encoding="utf-8").splitlines() if x]
    approvals = [json.loads(x) for x in approvals_path(out).read_text(encoding="utf-8").splitlines() if x]
    by_line = {int(d["line"]): str(d["project_no"]) for d in defects}
    split: dict[str, list[dict[str, Any]]] = {c: [] for c in COUNTIES}
    with out.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            row = json.loads(line)
            project = by_line.get(n) or str(row.get("project_no") or "")
            split[project[:6]].append(row)
    generation = json.loads((folder / "generation.json").read_text(encoding="utf-8"))
    return Day(folder, out, defects, approvals, split, generation)


# --- the sandbox peers ----------------------------------------------------------------------------


@dataclass
class Peers:
    province: Any  # sandbox.province.ProvinceStore
    counties: dict[str, Any]
    departments: dict[str, Any]
    servers: list[Any]
    injectors: list[Any]
    env: dict[str, str]
    status_changes: list[dict[str, Any]] = field(default_factory=list)

    def close(self) -> None:
        for s in self.servers:
            s.close()

    def faults_injected(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for inj in self.injectors:
            for k, v in inj.counts.items():
                total[k] = total.get(k, 0) + int(v)
        return total


def start_peers(
    folder: Path,
    day: Day,
    *,
    faults: Any = None,
    fault_seed: int = 1,
    token: str = "sandbox-token",  # noqa: S107
) -> Peers:
    """Province, county feeds and department systems on loopback; ``faults``: a FaultPlan for all."""
    from dataclasses import replace

    from sandbox.countyfeed import CountyFeed
    from sandbox.deptsystem import DepartmentSystem, plan_status_changes
    from sandbox.faults import FaultInjector
    from sandbox.province import ProvinceStore, make_province_app
    from sandbox.server import start

    folder.mkdir(parents=True, exist_ok=True)
    servers: list[Any] = []
    injectors: list[Any] = []
    env: dict[str, str] = {}

    def serve(app: Any, conn_id: str, *, soap: bool, n: int, secret: str | None) -> None:
        if faults is not None:
            plan = replace(faults, seed=fault_seed * 100 + n)
            app = FaultInjector(app, plan, soap=soap)
            injectors.append(app)
        srv = start(app)
        servers.append(srv)
        conn: dict[str, Any] = {"conn_type": "http", "host": "127.0.0.1", "port": srv.port}
        if secret:
            conn["password"] = secret
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)

    province = ProvinceStore(folder / "province.db")
    serve(make_province_app(province), "tongban_province", soap=True, n=0, secret=None)
    results = {
        str(r["project_no"]): r
        for rows in day.rows_by_county.values()
        for r in rows
        if r.get("table") == "up_pro_result"
        and isinstance(r.get("project_no"), str)
        and r.get("result_cert_no")
    }
    exclude = {str(d["project_no"]) for d in day.defects}
    counties: dict[str, Any] = {}
    departments: dict[str, Any] = {}
    changes_all: list[dict[str, Any]] = []
    for i, region in enumerate(COUNTIES, start=1):
        layout = "vendor_b" if region == VENDOR_B_COUNTY else "standard"
        feed = CountyFeed(region, day.rows_by_county[region], layout=layout, token=token)
        counties[region] = feed
        serve(feed, f"tongban_county_{region}", soap=False, n=i, secret=token)
        approvals = [a for a in day.approvals if str(a["project_no"]).startswith(region)]
        changes = plan_status_changes(
            approvals,
            {k: v for k, v in results.items() if k.startswith(region)},
            seed=int(region),
            exclude=exclude,
        )
        changes_all += changes
        dept = DepartmentSystem(region, approvals, changes, token=token)
        departments[region] = dept
        serve(dept, f"tongban_department_{region}", soap=False, n=10 + i, secret=token)
    return Peers(province, counties, departments, servers, injectors, env, changes_all)


# --- running the DAGs -----------------------------------------------------------------------------


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_dag(dag_id: str, **conf: Any) -> str:
    from tongban import airflow_env

    run = airflow_env.run_dag(dag_id, **conf)
    return str(getattr(run, "state", "unknown")).rsplit(".", 1)[-1]


def expiry_night(settings: Settings) -> str | None:
    """The day after the earliest end of validity (有效期截止日期) of a live license — the night the
    demo's ``license_expiry`` judges — or None when every license is 长期."""
    from datetime import date, timedelta

    from sqlalchemy import func, select

    from core.runtime import shared_database
    from licenses.models import LicenseRecord

    with shared_database(settings).session() as s:
        first = s.scalar(
            select(func.min(LicenseRecord.valid_until)).where(
                LicenseRecord.status.in_(("01", "02")), LicenseRecord.valid_until.is_not(None)
            )
        )
    return (date.fromisoformat(str(first)) + timedelta(days=1)).isoformat() if first else None


def reuse_holders(settings: Settings, *, limit: int = REUSE_CASES) -> list[dict[str, str]]:
    """Holders of valid 营业执照 issued in this run (first holder, oldest first), for
    :func:`sandbox.generator.reuse_cases`."""
    from sqlalchemy import select

    from core.runtime import shared_database
    from licenses.models import LicenseHolderRow, LicenseRecord

    out: list[dict[str, str]] = []
    with shared_database(settings).session() as s:
        q = (
            select(LicenseRecord, LicenseHolderRow)
            .join(LicenseHolderRow, LicenseHolderRow.license_pk == LicenseRecord.id)
            .where(
                LicenseRecord.type_code == BUSINESS_LICENSE,
                LicenseRecord.status == "01",
                LicenseHolderRow.position == 0,
            )
            .order_by(LicenseRecord.id)
            .limit(limit)
        )
        for rec, holder in s.execute(q):
            out.append(
                {
                    "license_id": rec.license_id,
                    "name": holder.name,
                    "code": holder.code,
                    "code_type": holder.code_type,
                    "region_code": rec.issuer_code[2:8],  # the issuing department's county (USCC 3–8)
                }
            )
    return [h for h in out if h["region_code"] in COUNTIES]


def add_reuse_cases(settings: Settings, peers: Peers, *, today: Any = None) -> list[dict[str, Any]]:
    """Follow-up cases that reuse the 营业执照 just issued (电子证照免提交), appended to their county
    feeds (a window system keeps accepting cases); returns the rows."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sandbox.generator import reuse_cases

    day = today or datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    rows = reuse_cases(reuse_holders(settings), today=day, seed=18)
    for region, feed in peers.counties.items():
        feed.append([r for r in rows if str(r["project_no"]).startswith(region)])
    return rows


def run_pipeline(
    dag_ids: tuple[str, ...] = PIPELINE,
    *,
    on_step: Callable[[int, str, str, float], None] | None = None,
    on_start: Callable[[int, str], None] | None = None,
    conf_for: Callable[[str], dict[str, Any]] | None = None,
    before: Callable[[int, str], None] | None = None,
) -> list[tuple[str, str, float]]:
    """Run the DAGs in order with ``dag.test()``; stop at the first that does not succeed.
    ``conf_for(dag_id)``: the run conf of a DAG (the demo's expiry night); ``before(i, dag_id)``:
    called before the i-th DAG runs (the demo adds its reuse cases before :data:`REUSE_AT`)."""
    out: list[tuple[str, str, float]] = []
    for i, dag_id in enumerate(dag_ids, start=1):
        if before is not None:
            before(i, dag_id)
        if on_start is not None:
            on_start(i, dag_id)
        t0 = time.perf_counter()
        state = run_dag(dag_id, **(conf_for(dag_id) if conf_for is not None else {}))
        dt = time.perf_counter() - t0
        out.append((dag_id, state, dt))
        if on_step is not None:
            on_step(i, dag_id, state, dt)
        if state != "success":
            break
    return out


def live_counts(settings: Settings) -> str:
    """One line of progress read from the database (for the status line while a DAG runs)."""
    from sqlalchemy import func, select

    from connectors.models import InboundRow, OutboxRow
    from core.casestore import CaseRow
    from core.runtime import shared_database
    from pipeline.models import ISSUED, CaseLicense

    db = shared_database(settings)
    with db.session() as s:

        def n(q: Any) -> int:
            return int(s.scalar(q) or 0)

        landed = n(select(func.count()).select_from(InboundRow))
        curated = n(select(func.count()).select_from(CaseRow))
        pushed = n(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.kind == "case_row", OutboxRow.state == "delivered")
        )
        issued = n(select(func.count()).select_from(CaseLicense).where(CaseLicense.state == ISSUED))
    return f"landed {landed:,} · curated {curated:,} · pushed {pushed:,} · licenses {issued:,}"


# --- the command ------------------------------------------------------------------------------------


def demo_settings(base: Settings) -> Settings:
    return Settings(data_dir=base.data_path / "demo", log_level=base.log_level)


def run(settings: Settings, console: Console, *, cases: int | None = None) -> int:
    from pipeline import FlowContext
    from pipeline.summary import collect
    from tongban import airflow_env, setup

    t_start = time.perf_counter()
    n_cases = cases or int(os.environ.get("TONGBAN_DEMO_CASES", DEMO_CASES))
    demo = demo_settings(settings)
    console.rule("[bold]tongban demo[/bold] — embedded defaults, whole pipeline")
    if demo.data_path.exists():
        shutil.rmtree(demo.data_path)
    env = {
        "TONGBAN_DATA_DIR": str(demo.data_path),
        "TONGBAN_DATABASE_URL": demo.db_url,
    }
    os.environ.update(env)
    demo = Settings()
    console.print(f"1/5 initialising {demo.data_path} (database, keys, sample PKI) …", soft_wrap=True)
    setup.init(demo)
    bad = [c for c in setup.doctor(demo) if not c.ok]
    if bad:
        for c in bad:
            console.print(f"[red]FAIL[/red] {c.name}: {c.detail}")
        return 1
    rows = int(n_cases * ROWS_PER_CASE)
    console.print(
        f"2/5 generating a county day: ~{n_cases:,} cases ({rows:,} rows), 5% defects …", soft_wrap=True
    )
    day = generate_day(demo.data_path / "day", rows=rows)
    g = day.generation
    console.print(
        f"    {g['cases']:,} cases, {g['rows']:,} rows ("
        + ", ".join(f"{k} {len(v):,}" for k, v in day.rows_by_county.items())
        + "), "
        f"{g['bad_rows']:,} defective, {g['approvals']:,} approvals ({g['late_approvals']:,} late)",
        soft_wrap=True,
    )
    console.print(
        "3/5 starting the sandbox peers on loopback (province SOAP, 2 county feeds, 2 department systems) …",
        soft_wrap=True,
    )
    peers = start_peers(demo.data_path / "peers", day)
    os.environ.update(peers.env)
    airflow_env.prepare(settings.data_path)
    console.print("4/5 running the DAGs with dag.test() …")
    states: list[tuple[str, str, float]] = []
    try:
        stop = threading.Event()
        with _progress(console) as progress:
            task = progress.add_task("starting", total=len(PIPELINE))
            current = {"label": ""}

            def ticker() -> None:
                while not stop.wait(1.0):
                    with contextlib.suppress(Exception):  # progress only
                        progress.update(task, description=f"{current['label']} — {live_counts(demo)}")

            th = threading.Thread(target=ticker, daemon=True)
            th.start()

            def on_start(i: int, dag_id: str) -> None:
                current["label"] = f"[{i}/{len(PIPELINE)}] {dag_id}"
                progress.update(task, description=current["label"])

            def on_step(i: int, dag_id: str, state: str, dt: float) -> None:
                mark = "[green]success[/green]" if state == "success" else f"[red]{state}[/red]"
                progress.console.print(
                    f"    [{i}/{len(PIPELINE)}] {dag_id:<28} {mark}  {dt:6.1f} s   {live_counts(demo)}",
                    soft_wrap=True,
                )
                progress.advance(task)

            night: dict[str, str | None] = {"today": None}

            def conf_for(dag_id: str) -> dict[str, Any]:
                if dag_id != "license_expiry":
                    return {}
                night["today"] = expiry_night(demo)
                return {"today": night["today"]} if night["today"] else {}

            reused: list[dict[str, Any]] = []

            def before(i: int, dag_id: str) -> None:
                if i == REUSE_AT:
                    reused.extend(add_reuse_cases(demo, peers))

            try:
                states = run_pipeline(on_start=on_start, on_step=on_step, conf_for=conf_for, before=before)
            finally:
                stop.set()
        console.print(
            "5/5 reading the figures back (database, store, province), re-verifying licenses, "
            "writing the data-quality site and exporting a license and a copy …",
            soft_wrap=True,
        )
        ctx = FlowContext(demo)
        limit = int(os.environ.get("TONGBAN_DEMO_VERIFY", DEMO_VERIFY)) or None
        try:
            figures = collect(ctx, verify_limit=limit)
        finally:
            ctx.close()
        figures["expiry_night"] = night["today"]
        figures["reuse_cases"] = sum(1 for r in reused if r["table"] == "up_pro_accept")
        figures["files"] = write_files(demo, figures)
    finally:
        peers.close()
    elapsed = time.perf_counter() - t_start
    (demo.data_path / "summary.json").write_text(
        json.dumps(figures, ensure_ascii=False, indent=1, default=str)
    )
    _print_summary(console, figures, states, elapsed, demo)
    ok = (
        all(s == "success" for _, s, _ in states)
        and len(states) == len(PIPELINE)
        and figures["ledger_ok"]
        and _verified(figures)
        and figures["province_rows"] == figures["rows_pushed"]
    )
    return 0 if ok else 1


def _progress(console: Console) -> Any:
    from tongban.progress import progress_bar

    return progress_bar(console)


COPY_PURPOSE = (
    "510129-GS-001",
    "个体工商户变更登记",
)  # the sandbox client's purpose (tongban api client sandbox)
COPY_RECIPIENT = "11510129008589710X"  # 大邑县市场监督管理局


def _relative(path: str | Path, root: Path) -> str:
    p = Path(path)
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


def write_files(demo: Settings, figures: Mapping[str, Any]) -> dict[str, str]:
    """What a newcomer opens, as paths relative to the data dir: the data-quality site, the last
    batch's DQ report, one valid license and an annotated copy (加注件) of it, as ``.pdf`` files."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from licenses import open_registry
    from licenses.copies import CopySpec, open_copy_service
    from licenses.models import LicenseRecord
    from quality.site import QualitySite

    root = demo.data_path
    files: dict[str, str] = {}
    site = QualitySite(demo)
    site.write(root / "quality-site")
    files["quality_site"] = "quality-site/index.html"
    newest = next((b for b in site.batches() if b.report_key), None)
    if newest is not None:  # the stored report, as the site's page (an .html file to open)
        files["dq_report"] = f"quality-site/batches/{newest.batch_hash}/report.html"
    registry = open_registry(demo)
    try:
        with registry.db.session() as s:
            valid = list(
                s.scalars(
                    select(LicenseRecord).where(LicenseRecord.status == "01").order_by(LicenseRecord.id)
                )
            )
        if not valid:
            return files
        # a 营业执照 when there is one (the type whose copy issue 22 was about), else the first
        chosen = next((r for r in valid if r.type_name == "营业执照"), valid[0])
        exports = root / "exports"
        exports.mkdir(exist_ok=True)
        license_pdf = exports / f"license-{chosen.license_no}.pdf"
        license_pdf.write_bytes(registry.file(chosen.license_id))
        today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
        copy = open_copy_service(demo, registry=registry).make(
            CopySpec(
                license_id=chosen.license_id,
                purpose=COPY_PURPOSE[0],
                purpose_text=COPY_PURPOSE[1],
                cause="演示：办理变更登记",
                recipient=COPY_RECIPIENT,
                until=today + timedelta(days=30),
            )
        )
        copy_pdf = exports / f"copy-{chosen.license_no}.pdf"
        copy_pdf.write_bytes(copy)
        files["license"] = _relative(license_pdf, root)
        files["license_id"] = chosen.license_id
        files["license_type"] = chosen.type_name
        files["copy"] = _relative(copy_pdf, root)
    finally:
        registry.db.dispose()
    return files


def _verified(figures: Mapping[str, Any]) -> bool:
    """Every re-verified license is valid, except those a department suspended or the expiry night
    moved to 05 (status_not_valid: judged today, they are within their period but not 有效)."""
    v = figures["verification"]
    other = {k: n for k, n in v["reasons"].items() if k != "status_not_valid"}
    not_valid = int(v["reasons"].get("status_not_valid", 0))
    return (
        not other
        and v["valid"] + not_valid == v["checked"]
        and not_valid <= figures["status_changes"].get("applied", 0) + figures.get("licenses_expired", 0)
    )


def _print_summary(
    console: Console,
    f: Mapping[str, Any],
    states: list[tuple[str, str, float]],
    elapsed: float,
    demo: Settings,
) -> None:
    t = Table(title=f"demo summary — {elapsed:.0f} s", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("DAG runs", ", ".join(f"{d} {s} ({dt:.0f} s)" for d, s, dt in states))
    t.add_row(
        "rows ingested",
        f"{f['rows_ingested']:,} in {f['raw_batches']} raw batches ("
        + ", ".join(f"{k} {v:,}" for k, v in f["rows_by_county"].items())
        + ")",
    )
    t.add_row("curated (valid)", f"{f['rows_curated']:,}")
    t.add_row("held (parent missing)", f"{f['rows_held']:,}")
    top = ", ".join(f"{r} {n}" for r, n in f["quarantine_top_reasons"])
    t.add_row("quarantined", f"{f['rows_quarantined']:,} — top reasons: {top}")
    t.add_row(
        "pushed to the province",
        f"{f['rows_pushed']:,} delivered; the province confirms {f['province_rows']:,} rows"
        + (" [green](agree)[/green]" if f["province_rows"] == f["rows_pushed"] else " [red](DISAGREE)[/red]"),
    )
    v = f.get("verification") or {}
    t.add_row(
        "licenses",
        f"{f['licenses_issued']:,} issued for {f['finished_license_cases']:,} finished license cases; "
        f"{v.get('valid', 0):,} of {v.get('checked', 0):,} re-verified from the store are valid"
        + (f" (other: {v.get('reasons')})" if v.get("reasons") else ""),
    )
    night = f.get("expiry_night")
    t.add_row(
        "licenses expired (05 失效)",
        f"{f.get('licenses_expired', 0):,} — license_expiry judged "
        + (f"the night of {night} (the day after the first end of validity)" if night else "today")
        + "; each published to the province catalog",
    )
    t.add_row(
        "awaiting approval data",
        f"{f['awaiting_approval']:,} cases ({f['awaiting_flagged']} flagged as overdue); "
        f"{f['issue_failed']} failed",
    )
    m = f.get("materials") or {}
    t.add_row(
        "容缺 (accepted missing)",
        f"{m.get('deferred_accepted', 0):,} materials accepted as missing: {m.get('deferred_supplied', 0):,} "
        f"supplied, {m.get('deferred_missing', 0):,} still missing; {m.get('deferred_missed', 0):,} missed "
        "their supply date (flagged once, clock stopped until supplied); licenses wait for the supply",
    )
    held = ", ".join(f"{r} {n}" for r, n in sorted((m.get("held_reasons") or {}).items())) or "none"
    t.add_row(
        "免提交 (licenses reused)",
        f"{m.get('licenses_reused', 0):,} licenses reused at intake in {f.get('reuse_cases', 0):,} follow-up "
        f"cases — {m.get('paper_documents_avoided', 0):,} paper documents avoided, each use in the holder's "
        f"use ledger; {m.get('license_refs_held', 0):,} references held ({held})",
    )
    dl = f.get("case_deadlines") or {}
    t.add_row(
        "case deadlines",
        f"{sum(dl.values()):,} cases watched: {dl.get('done', 0):,} done on time, "
        f"{dl.get('done_late', 0):,} done late, {dl.get('overdue', 0):,} overdue (flagged), "
        f"{dl.get('open', 0):,} open",
    )
    jc = f.get("joint") or {}
    t.add_row(
        "joint cases (联办件)",
        f"{jc.get('cases', 0):,} joint cases, {jc.get('members', 0):,} members; "
        f"states {jc.get('states', {})}; {jc.get('with_result', 0):,} with their one result, "
        f"{jc.get('licenses', 0):,} licenses issued together "
        f"(joint cases by licenses: {jc.get('licenses_per_case', {})}); "
        f"{jc.get('working_days_saved', 0):,} working days saved against one after another",
    )
    t.add_row(
        "department data",
        f"{f['approvals_received']:,} approvals accepted, {f['approvals_quarantined']} quarantined; "
        f"status changes {f['status_changes']} (quarantined: {f['status_change_reasons']})",
    )
    t.add_row(
        "catalog events",
        f"{f['events_delivered']:,} delivered, {f['province_events']:,} held by the province",
    )
    t.add_row(
        "ledger chains",
        ("[green]intact[/green] " if f["ledger_ok"] else "[red]BROKEN[/red] ")
        + ", ".join(f"{k} {v['entries']}" for k, v in f["ledger_chains"].items()),
    )
    console.print(t)
    # paths whole (never wrapped, so they can be copied) and relative to the data dir
    files = f.get("files") or {}
    console.print(f"[bold]data dir[/bold] {demo.data_path}", soft_wrap=True)
    rows = [
        ("quality_site", "data-quality site (batches, reports, rules, trends)"),
        ("dq_report", "DQ report of the last batch"),
        ("license", f"one license PDF ({files.get('license_type', '')}, {files.get('license_id', '')})"),
        ("copy", f"its annotated copy (加注件) for {COPY_RECIPIENT}, {COPY_PURPOSE[1]}"),
    ]
    for key, what in rows:
        if files.get(key):
            console.print(f"  {files[key]}  [dim]{what}[/dim]", soft_wrap=True)
