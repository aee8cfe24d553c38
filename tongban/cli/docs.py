"""``tongban docs``: the README's pictures, made from a demo run (tongban.pictures)."""

from __future__ import annotations

from pathlib import Path

import typer

from tongban.cli._common import EXIT_NEGATIVE, JsonOpt, console, emit_json, fail, settings

app = typer.Typer(help="Documentation assets.", no_args_is_help=True)
REPO_PICTURES = Path(__file__).resolve().parents[2] / "docs" / "pictures"
OutOpt = typer.Option(
    REPO_PICTURES, "--out", help="Where the PNG files go (default: the repo's docs/pictures)."
)
FreshOpt = typer.Option(False, "--fresh", help="Run the demo first even when its data dir exists.")


@app.command("pictures")
def pictures(out: Path = OutOpt, fresh: bool = FreshOpt, json_out: bool = JsonOpt) -> None:
    """License, annotated copy, verify page, data-quality site and DAG graph as PNG (< 200 KB each)."""
    from tongban import demo as demo_mod
    from tongban import pictures as pictures_mod

    s = settings()
    demo_dir = demo_mod.demo_settings(s).data_path
    if fresh or not (demo_dir / "exports").is_dir():
        console.print(f"running the demo first ({demo_dir}) …", soft_wrap=True)
        if demo_mod.run(s, console) != 0:
            fail("the demo did not succeed; no pictures made", code=EXIT_NEGATIVE)
    try:
        sizes = pictures_mod.make_pictures(demo_dir, out)
    except RuntimeError as exc:
        fail(str(exc))
    if json_out:
        emit_json({"out": str(out), "pictures": sizes})
        return
    for name, n in sizes.items():
        console.print(f"  {out / name}  {n / 1000:.0f} KB", soft_wrap=True)
