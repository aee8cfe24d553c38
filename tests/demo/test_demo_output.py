"""``./run demo`` as a newcomer sees it (issue 22): on a fresh data dir it prints no log line
before its summary (set-up and PKI details are debug level; ``-v`` shows them), no progress bar
when stdout is not a terminal, the summary's paths whole and relative to the data dir, and the
files it names exist: the data-quality site, the DQ report, one license and one annotated copy
(加注件) as ``.pdf`` files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.privacy_scan import resident_ids_in, scan_bytes, scan_paths

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.timeout(1800)]

# a log line in any format a process of ours (core.logging: key=value or JSON), Python's logging
# defaults, Airflow or the warnings module would print
LOG_LINE = re.compile(
    r"^\s*(debug|info|warning|error|critical)\s+[\w.]+: "
    r"|^\s*\{\"ts\":"
    r"|\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b"
    r"|^\S*(Warning|Error):",
)


def test_the_demo_is_quiet_until_its_summary_and_names_files_that_exist(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TONGBAN_"))}
    env.update(
        {
            "TONGBAN_DATA_DIR": str(tmp_path / "var"),  # a fresh data dir, default log level
            "TONGBAN_DEMO_CASES": "20",
            "TONGBAN_DEMO_VERIFY": "3",
            "COLUMNS": "80",  # paths longer than the terminal must still print whole
        }
    )
    r = subprocess.run(
        [sys.executable, "-m", "tongban", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    before, marker, summary = r.stdout.partition("demo summary")
    assert marker, r.stdout[-3000:]
    noisy = [line for line in (before + r.stderr).splitlines() if LOG_LINE.search(line)]
    assert noisy == []
    assert "\x1b[" not in r.stdout  # no bar, no colour codes off a terminal
    assert r.stderr.strip() == ""

    data = tmp_path / "var" / "demo"
    assert f"data dir {data}" in summary
    named = re.findall(r"^  (\S+\.(?:html|pdf))  ", summary, flags=re.M)
    kinds = {Path(p).suffix for p in named}
    assert kinds == {".html", ".pdf"} and len(named) == 4, summary
    for rel in named:
        assert not Path(rel).is_absolute()
        assert (data / rel).is_file() and (data / rel).stat().st_size > 0, rel
    pdfs = [data / p for p in named if p.endswith(".pdf")]
    assert [p.name.split("-")[0] for p in pdfs] == ["license", "copy"]
    assert all(p.read_bytes().startswith(b"%PDF-") for p in pdfs)

    # nothing the demo wrote outside the license documents holds a resident ID in clear (issue 17):
    # the databases (ours and Airflow's), every store zone but `licenses`, the reports, the
    # data-quality site, the keys and PKI folders, and what it printed
    known = resident_ids_in([data / "day"])
    assert len(known) > 10
    skip = [data / "day", data / "peers", data / "exports", data / "store" / "licenses"]
    hits = scan_paths([tmp_path / "var"], known, skip=skip)
    hits += scan_bytes((r.stdout + r.stderr).encode(), "demo output", known)
    assert hits == [], [str(h) for h in hits[:10]]
    # and the scan does see IDs where they belong: the licenses hold their holders' codes
    assert scan_paths([data / "store" / "licenses"], known)
