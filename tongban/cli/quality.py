"""``tongban quality``: the data-quality site (quality.site) written as static HTML."""

from __future__ import annotations

from pathlib import Path

import typer

from core.errors import CoreError
from tongban.cli._common import JsonOpt, console, emit_json, fail_core, settings

app = typer.Typer(help="Data quality: the site of batches, reports, rules and trends.", no_args_is_help=True)


OutDirArg = typer.Argument(..., help="Folder to write the site into (index.html and the rest).")


@app.command("site")
def site(
    out_dir: Path = OutDirArg,
    json_out: bool = JsonOpt,
) -> None:
    """Write the data-quality site as static HTML (also served by the API at /quality/, role quality)."""
    from quality.site import QualitySite

    s = settings()
    try:
        qs = QualitySite(s)
        files = qs.write(out_dir)
        batches = len(qs.batches())
    except CoreError as exc:
        fail_core(exc)
    index = out_dir / "index.html"
    if json_out:
        emit_json({"index": str(index), "pages": len(files), "batches": batches})
        return
    console.print(f"data-quality site: {len(files)} pages, {batches} batches", soft_wrap=True)
    console.print(f"open {index}", soft_wrap=True)
