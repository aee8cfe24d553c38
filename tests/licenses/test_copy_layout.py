"""Copies a person can read (issue 22): on an annotated copy (加注件) of every license type the
red annotation band sits in a band the face reserves for it, so it never covers a face field.

Checked with tools we did not write: ``pdftotext -bbox-layout`` gives every word's box on the
original and on the copy; the band's words must not intersect any word of the face, the face
must be drawn where it was on the original (nothing moved, nothing dropped) and every face field
must be on the page. The copy is also rendered to PNG with ``pdftoppm`` (the picture a person
looks at) and the band's rows are checked to be seal red.

The diagonal watermark (加注件 · 仅限指定用途, 12 % opacity, 44 pt glyphs) crosses the face on
purpose and is read through; its glyphs are told apart by text and size, and counted, so a
watermark that turned opaque or moved into the band would not pass unseen.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from contracts.validators import make_resident_id
from licenses import Holder, IssueRequest
from licenses._render import ANNOTATION_BAND, PAGE_H
from licenses.copies import WATERMARK, CopySpec, open_copy_service
from tests.licenses.conftest import DAYI_SAMR, LicEnv, business_request, property_request

pytestmark = pytest.mark.tools

_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 from the top left (pdftotext)

    def key(self) -> tuple[str, tuple[float, ...]]:
        return self.text, tuple(round(v, 1) for v in self.box)

    def intersects(self, other: Word) -> bool:
        a, b = self.box, other.box
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def words(pdf: Path) -> list[Word]:
    out = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [Word(m[5], (float(m[1]), float(m[2]), float(m[3]), float(m[4]))) for m in _WORD.finditer(out)]


def food_request() -> IssueRequest:
    return replace(
        business_request(),
        type_code="food_business_license",
        fields={
            "KZ_FDDBR": "张三",
            "KZ_ZS": "四川省成都市大邑县晋原街道示例路1号",
            "KZ_JYCS": "四川省成都市大邑县晋原街道示例路1号",
            "KZ_ZTYT": "餐饮服务经营者",
            "KZ_JYXM": "热食类食品制售；冷食类食品制售；自制饮品制售",
            "KZ_RCJDGLJG": "大邑县市场监督管理局",
        },
        idempotency_key="layout-food",
    )


def food_person_request() -> IssueRequest:
    """食品经营许可证 of a person (身份证号码 as the holder code: an extra face row)."""
    person = Holder("李四", make_resident_id("510129", date(1985, 3, 4), 77), "111")
    base = food_request()
    return replace(
        base,
        holders=[person],
        fields={**base.fields, "KZ_SHXYDM": person.code},
        idempotency_key="layout-food-person",
    )


REQUESTS = {
    "business_license": lambda: business_request(
        KZ_JYFW="餐饮服务；食品销售（仅销售预包装食品）；外卖递送服务；日用百货零售；烟草制品零售。"
    ),
    "food_business_license": food_request,
    "food_business_license/person": food_person_request,
    "real_estate_certificate": lambda: property_request("510129001001GB00001F00010501", owners=3),
}


def test_every_license_type_is_covered() -> None:
    from contracts.licensetypes import load_license_types

    covered = {k.split("/")[0] for k in REQUESTS}
    assert covered == {t.key for t in load_license_types().values()}


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_the_annotation_band_covers_no_face_field(lic_env: LicEnv, tmp_path: Path, case: str) -> None:
    missing = [t for t in ("pdftotext", "pdftoppm") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"tools missing: {missing} (./run setup installs poppler-utils)")
    request = REQUESTS[case]()
    reg = lic_env.registry
    lic = reg.issue(request)
    original = tmp_path / "license.pdf"
    original.write_bytes(reg.file(lic.license_id))
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(
        open_copy_service(lic_env.settings, registry=reg).make(
            CopySpec(
                license_id=lic.license_id,
                purpose="510129-GS-001",
                purpose_text="个体工商户变更登记及食品经营许可证延续",
                cause="变更登记",
                recipient=DAYI_SAMR,
                until=date.today() + timedelta(days=30),
            )
        )
    )

    face_words = words(original)
    copy_words = words(copy)
    on_face = {w.key() for w in face_words}
    added = [w for w in copy_words if w.key() not in on_face]
    watermark = [w for w in added if w.text in WATERMARK and len(w.text) == 1 and w.box[3] - w.box[1] > 30]
    band = [w for w in added if w not in watermark]

    # the face is drawn exactly where it is on the original: nothing moved, nothing dropped
    assert on_face <= {w.key() for w in copy_words}
    # every face field is on the page (none cut off by the reserved band)
    text = " ".join(w.text for w in face_words)
    for label, value in reg.face(lic.license_id).fields:
        assert label in text, f"{case}: face field {label} is missing"
        assert value.replace("\n", "")[:8] in text.replace(" ", ""), f"{case}: value of {label} is missing"
    # the band says what it must, and only the band and the watermark were added
    band_text = "".join(w.text for w in band)
    assert "此件由" in band_text and "有效期至" in band_text and "使用单位代码" in band_text
    assert len(watermark) == len(WATERMARK.replace(" ", ""))
    # the acceptance line: no annotation box intersects a face box
    overlaps = [(b.text, f.text) for b in band for f in face_words if b.intersects(f)]
    assert not overlaps, f"{case}: the annotation covers {overlaps}"
    # and the band's words lie inside the reserved band
    x0, y0, x1, y1 = ANNOTATION_BAND
    for b in band:
        assert x0 <= b.box[0] and b.box[2] <= x1, b
        assert PAGE_H - y1 <= b.box[1] and b.box[3] <= PAGE_H - y0, b

    # the picture a person looks at
    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", "-singlefile", str(copy), str(tmp_path / "copy")], check=True
    )
    png = tmp_path / "copy.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(png) as im:
        rgb = im.convert("RGB")
        scale = rgb.width / 595.2756
        # the band's frame line (top edge) is seal red in the picture
        top = round((PAGE_H - y1) * scale)
        reds: list[tuple[int, int, int]] = [
            rgb.getpixel((x, y))  # type: ignore[misc]
            for x in range(round(x0 * scale) + 5, round(x1 * scale) - 5)
            for y in (top - 1, top, top + 1)
        ]
        assert sum(1 for r, g, b in reds if r > 150 and g < 120 and b < 120) > len(reds) // 6
