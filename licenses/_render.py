"""Drawing the license face (证照照面) on one A4 page with reportlab.

Everything on the page is vector: the text in an embedded subset of a CJK TrueType font (see
``_fonts``), the department's seal (circle, star, name along the arc, marked 样例 while the keys
are samples), and the QR code (segno's module matrix drawn as rectangles). The document carries
the license metadata twice: as XMP (``/Metadata``, namespace :data:`XMP_NS`) and as an attached
``license.json`` (``/Names /EmbeddedFiles`` and ``/AF``, relationship ``/Data``).

Every string passes the font set's glyph check before anything is drawn: a character no font
covers raises :class:`~licenses.errors.GlyphMissing` naming the character and the field.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from licenses._fonts import FontSet, font_set

# streams are Flate-compressed; reportlab would also wrap them in ASCII85 (25% bigger, ~3 ms a page)
_rl_config: Any = __import__("reportlab.rl_config", fromlist=["useA85"])
_rl_config.useA85 = 0

XMP_NS = "https://tongban.example/ns/license/1.0/"
ATTACHMENT_NAME = "license.json"
PAGE_W, PAGE_H = 595.2756, 841.8898  # A4 in points
SEAL_RED = (0.84, 0.09, 0.11)
# (x0, y0, x1, y1) in points from the bottom left: a band every face keeps free between the
# license number and the first face field, where an annotated copy (加注件) prints its annotation;
# so the annotation never covers a face field (empty on the original)
ANNOTATION_BAND = (56.0, PAGE_H - 224.0, PAGE_W - 56.0, PAGE_H - 178.0)


@dataclass(frozen=True)
class Face:
    """What goes on the page: already formatted strings, in display order."""

    title: str  # 证照名称
    fields: Sequence[tuple[str, str]]  # (label, value) rows, holders and face fields
    issuer_name: str  # 发证机关
    issue_date: str  # 2026年11月25日
    license_id: str  # 电子证照标识 (ZZBS)
    license_no: str  # 证照编号 (ZZBH)
    verify_code: str  # 核验码
    qr_payload: str
    seal_text: str  # the department name along the seal's arc
    seal_caption: str = "电子证照专用章"
    sample: bool = True  # 样例 while keys are samples
    metadata: dict[str, Any] = field(default_factory=dict)  # DOMAIN §3 codes → values
    metadata_json: bytes = b"{}"
    producer: str = "tongban 通办"


def _all_strings(face: Face) -> list[tuple[str, str]]:
    out = [("title", face.title), ("issuer", face.issuer_name), ("issue date", face.issue_date)]
    out += [("seal", face.seal_text), ("seal", face.seal_caption)]
    for label, value in face.fields:
        out += [(f"label {label}", label), (f"field {label}", value)]
    return out


def check_glyphs(face: Face, fonts: FontSet | None = None) -> None:
    """Raise :class:`GlyphMissing` when any string of the face has a character no font draws."""
    fs = fonts or font_set()
    for where, text in _all_strings(face):
        fs.check(text, where)


class _Pen:
    """Draws mixed-font text runs (primary CJK font, fallbacks) on a canvas."""

    def __init__(self, canvas: Any, fonts: FontSet) -> None:
        self.c = canvas
        self.fonts = fonts

    def width(self, text: str, size: float, where: str) -> float:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        return float(sum(stringWidth(s, f, size) for f, s in self.fonts.runs(text, where)))

    def text(self, x: float, y: float, text: str, size: float, where: str, *, align: str = "left") -> None:
        if align != "left":
            w = self.width(text, size, where)
            x -= w if align == "right" else w / 2
        t = self.c.beginText(x, y)
        for font, chunk in self.fonts.runs(text, where):
            t.setFont(font, size)
            t.textOut(chunk)
        self.c.drawText(t)

    def wrap(self, text: str, size: float, width: float, where: str) -> list[str]:
        """Break ``text`` into lines no wider than ``width`` (any character may start a line)."""
        from reportlab.pdfbase.pdfmetrics import stringWidth

        lines, line, used = [], "", 0.0
        for ch in text:
            if ch == "\n":
                lines.append(line)
                line, used = "", 0.0
                continue
            w = stringWidth(ch, self.fonts.font_for(ch, where).name, size)
            if line and used + w > width:
                lines.append(line)
                line, used = ch, w
            else:
                line, used = line + ch, used + w
        if line or not lines:
            lines.append(line)
        return lines


def _draw_frame(c: Any) -> None:
    c.setStrokeColorRGB(0.72, 0.55, 0.2)
    c.setLineWidth(3)
    c.rect(28, 28, PAGE_W - 56, PAGE_H - 56)
    c.setLineWidth(0.8)
    c.rect(36, 36, PAGE_W - 72, PAGE_H - 72)
    c.setStrokeColorRGB(0, 0, 0)


def _star(c: Any, cx: float, cy: float, r: float) -> None:
    p = c.beginPath()
    for i in range(10):
        rad = r if i % 2 == 0 else r * 0.382
        ang = math.pi / 2 + i * math.pi / 5
        x, y = cx + rad * math.cos(ang), cy + rad * math.sin(ang)
        if i == 0:
            p.moveTo(x, y)
        else:
            p.lineTo(x, y)
    p.close()
    c.drawPath(p, stroke=0, fill=1)


def _draw_seal(c: Any, pen: _Pen, face: Face, cx: float, cy: float, r: float = 60) -> None:
    """The department seal as vector graphics: ring, star, name on the arc, caption, 样例."""
    c.saveState()
    c.setStrokeColorRGB(*SEAL_RED)
    c.setFillColorRGB(*SEAL_RED)
    c.setLineWidth(3.2)
    c.circle(cx, cy, r, stroke=1, fill=0)
    _star(c, cx, cy, r * 0.3)
    name = face.seal_text
    n = len(name)
    size = min(15.0, (r * 0.78 * math.pi * 1.15) / max(n, 1))
    span = min(math.radians(250), size * 1.15 * n / (r * 0.78))
    for i, ch in enumerate(name):
        ang = math.pi / 2 + span / 2 - (span * (i + 0.5) / n)
        x, y = cx + r * 0.76 * math.cos(ang), cy + r * 0.76 * math.sin(ang)
        c.saveState()
        c.translate(x, y)
        c.rotate(math.degrees(ang) - 90)
        pen.text(0, -size / 2.8, ch, size, "seal", align="center")
        c.restoreState()
    pen.text(cx, cy - r * 0.55, face.seal_caption, 9.5, "seal", align="center")
    if face.sample:
        c.setFillColorRGB(*SEAL_RED)
        pen.text(cx, cy - r * 0.33, "样例", 9, "seal", align="center")
    c.restoreState()


def _draw_qr(c: Any, payload: str, x: float, y: float, size: float) -> None:
    """The QR code as one filled path: a rectangle per run of dark modules.

    The path is written as raw ``re`` operators in module units under one ``cm`` transform:
    integer coordinates, no per-number float formatting (reportlab's pure-Python formatter costs
    ~10 ms for the ~1500 rectangles otherwise). The mask is fixed (pattern 4): every mask gives a
    valid symbol, and skipping segno's search for the best-scoring one saves ~20 ms per page."""
    import segno

    qr = segno.make(payload, error="m", micro=False, mask=4)
    matrix = [list(row) for row in qr.matrix]
    n = len(matrix)
    border = 2
    module = size / (n + 2 * border)
    ops: list[str] = []
    for r, row in enumerate(matrix):
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                ops.append(f"{border + start} {n + border - r - 1} {col - start} 1 re")
            else:
                col += 1
    c.saveState()
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    c._code.append(f"{module:.4f} 0 0 {module:.4f} {x:.2f} {y:.2f} cm")
    c._code.append("\n".join(ops) + " f")
    c.restoreState()


def xmp_packet(face: Face) -> str:
    """XMP with dc:title, pdf:Producer and every DOMAIN §3 field in :data:`XMP_NS` (prefix tbzz)."""
    props = []
    for key, value in face.metadata.items():
        if value is None or isinstance(value, (list, dict)):
            continue
        props.append(f"<tbzz:{key}>{escape(str(value))}</tbzz:{key}>")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:pdf="http://ns.adobe.com/pdf/1.3/" xmlns:tbzz="{XMP_NS}">'
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(face.title)}</rdf:li></rdf:Alt></dc:title>'
        f"<pdf:Producer>{escape(face.producer)}</pdf:Producer>"
        f"{''.join(props)}"
        "</rdf:Description></rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def _attach_metadata(c: Any, face: Face) -> None:
    """XMP as /Metadata and license.json as an embedded file (/Names /EmbeddedFiles, /AF)."""
    from reportlab.pdfbase import pdfdoc

    doc = c._doc
    xmp = xmp_packet(face).encode("utf-8")
    doc.Catalog.Metadata = pdfdoc.XMP(creator=lambda _doc: xmp)
    stream = pdfdoc.PDFStream(
        dictionary=pdfdoc.PDFDictionary(
            {
                "Type": pdfdoc.PDFName("EmbeddedFile"),
                "Subtype": pdfdoc.PDFName("application#2Fjson"),
                "Params": pdfdoc.PDFDictionary({"Size": len(face.metadata_json)}),
            }
        ),
        content=face.metadata_json,
        filters=[pdfdoc.PDFStreamFilterZCompress()],
    )
    stream_ref = doc.Reference(stream)
    spec = pdfdoc.PDFDictionary(
        {
            "Type": pdfdoc.PDFName("Filespec"),
            "F": pdfdoc.PDFString(ATTACHMENT_NAME),
            "UF": pdfdoc.PDFString(ATTACHMENT_NAME),
            "Desc": pdfdoc.PDFString("电子证照元数据 (GB/T 36903 codes)"),
            "AFRelationship": pdfdoc.PDFName("Data"),
            "EF": pdfdoc.PDFDictionary({"F": stream_ref, "UF": stream_ref}),
        }
    )
    spec_ref = doc.Reference(spec)
    doc.Catalog.Names = pdfdoc.PDFDictionary(
        {
            "EmbeddedFiles": pdfdoc.PDFDictionary(
                {"Names": pdfdoc.PDFArray([pdfdoc.PDFString(ATTACHMENT_NAME), spec_ref])}
            )
        }
    )
    doc.Catalog.AF = pdfdoc.PDFArray([spec_ref])


def render(
    face: Face, *, fonts: FontSet | None = None, on_canvas: Callable[[Any], None] | None = None
) -> bytes:
    """The face as a one-page PDF (bytes). Raises GlyphMissing before drawing anything."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as rl_canvas

    fs = fonts or font_set()
    check_glyphs(face, fs)
    buf = io.BytesIO()
    c = rl_canvas.Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=False, pageCompression=1)
    c.setTitle(face.title)
    c.setAuthor(face.issuer_name)
    c.setSubject(face.license_id)
    c.setCreator(face.producer)
    c.setProducer(face.producer)
    pen = _Pen(c, fs)
    _draw_frame(c)

    y = PAGE_H - 110
    pen.text(PAGE_W / 2, y, face.title, 30, "title", align="center")
    y -= 30
    if face.sample:
        c.setFillColorRGB(*SEAL_RED)
        pen.text(PAGE_W / 2, y, "样例 · 测试用电子证照，不具法律效力", 11, "title", align="center")
        c.setFillColorRGB(0, 0, 0)
    y -= 26
    pen.text(70, y, f"证照编号：{face.license_no}", 10.5, "license number")
    y = ANNOTATION_BAND[1] - 20  # the fields start below the reserved annotation band

    label_x, value_x, right = 70.0, 170.0, PAGE_W - 70
    for label, value in face.fields:
        pen.text(label_x, y, label, 12, f"label {label}")
        for line in pen.wrap(value or "—", 12, right - value_x, f"field {label}"):
            pen.text(value_x, y, line, 12, f"field {label}")
            y -= 19
        y -= 7
        if y < 270:
            break

    # issuer, date and seal (bottom right)
    seal_cx, seal_cy = PAGE_W - 150, 205
    _draw_seal(c, pen, face, seal_cx, seal_cy)
    pen.text(PAGE_W - 70, 140, f"发证机关：{face.issuer_name}", 11, "issuer", align="right")
    pen.text(PAGE_W - 70, 120, face.issue_date, 11, "issue date", align="right")

    # QR code with the identifier and verification code (bottom left)
    qr_size = 34 * mm
    _draw_qr(c, face.qr_payload, 62, 112, qr_size)
    pen.text(62, 100, f"核验码：{face.verify_code}", 9, "verify code")
    pen.text(62, 62, f"电子证照标识：{face.license_id}", 7.5, "license id")
    pen.text(62, 50, "扫描二维码或访问核验页面，输入核验码验证本证照的真实性与状态。", 7.5, "footer")
    if on_canvas is not None:
        on_canvas(c)
    _attach_metadata(c, face)
    c.showPage()
    c.save()
    return buf.getvalue()
