"""The README's pictures (issue 22): made by one command from a demo run (``./run pictures``,
``tongban docs pictures``), committed under ``docs/pictures/``, each a PNG under 200 KB, and every
one shown in the README."""

from __future__ import annotations

from pathlib import Path

from tongban.pictures import MAX_BYTES, PICTURES

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "docs" / "pictures"


def test_every_picture_exists_is_a_png_and_is_small() -> None:
    for name in PICTURES:
        path = FOLDER / name
        assert path.is_file(), f"{name} is missing: run ./run pictures"
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert 5_000 < len(data) < MAX_BYTES, (name, len(data))


def test_the_readme_shows_every_picture_and_names_the_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in PICTURES:
        assert f"](docs/pictures/{name})" in readme, name
    assert "./run pictures" in readme and "tongban docs pictures" in readme
    run = (ROOT / "run").read_text(encoding="utf-8")
    assert 'pictures) setup; activate; tongban docs pictures "$@" ;;' in run


def test_shrink_keeps_a_picture_under_the_limit() -> None:
    import io

    from PIL import Image

    from tongban.pictures import shrink

    noise = Image.effect_noise((1400, 1400), 120).convert("RGB")  # incompressible on purpose
    raw = io.BytesIO()
    noise.save(raw, "PNG")
    assert raw.tell() > MAX_BYTES
    small = shrink(raw.getvalue())
    assert len(small) < MAX_BYTES and small.startswith(b"\x89PNG")
