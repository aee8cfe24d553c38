"""Fonts for the license face: a CJK TrueType font (embedded as a subset) and fallbacks.

The primary font is WenQuanYi Zen Hei from Debian's ``fonts-wqy-zenhei`` (``wqy-zenhei.ttc``; a
collection, read by reportlab with ``subfontIndex``), found under ``/usr/share/fonts`` or named by
``TONGBAN_LICENSE_FONT``. Fallback fonts (``TONGBAN_LICENSE_FALLBACK_FONTS``, ``:``-separated
paths; DejaVu Sans by default) draw characters the primary font lacks. :meth:`FontSet.runs` splits
a string into runs per font and raises :class:`~licenses.errors.GlyphMissing` naming the first
character no font covers — nothing is ever drawn as an empty box.

Fonts are parsed once per process (~0.3 s for the collection) and shared by every render.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from licenses.errors import GlyphMissing, RenderError

FONT_ENV = "TONGBAN_LICENSE_FONT"
FALLBACK_ENV = "TONGBAN_LICENSE_FALLBACK_FONTS"
_SEARCH_ROOTS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
_PRIMARY_NAMES = ("wqy-zenhei.ttc", "wqy-zenhei.ttf", "NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf")
_FALLBACK_NAMES = ("DejaVuSans.ttf",)
# characters that are layout, not ink: never checked against a font
_INVISIBLE = frozenset(" \u3000\n\t")


@dataclass(frozen=True)
class LoadedFont:
    name: str  # reportlab name
    path: str
    cmap: frozenset[int]

    def covers(self, char: str) -> bool:
        return char in _INVISIBLE or ord(char) in self.cmap


def _find(names: tuple[str, ...]) -> list[Path]:
    found = []
    for root in _SEARCH_ROOTS:
        if root.is_dir():
            for name in names:
                found.extend(sorted(root.rglob(name)))
    return found


def _load(name: str, path: Path) -> LoadedFont:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    try:
        kwargs = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
        font = TTFont(name, str(path), **kwargs)
    except (OSError, TTFError) as exc:
        raise RenderError(f"cannot load font {path}: {exc}", code="LICENSE_FONT") from exc
    pdfmetrics.registerFont(font)
    return LoadedFont(name, str(path), frozenset(font.face.charToGlyph))


class FontSet:
    """The primary CJK font and its fallbacks, registered with reportlab."""

    def __init__(self, primary: LoadedFont, fallbacks: list[LoadedFont]) -> None:
        self.primary = primary
        self.fallbacks = fallbacks

    @property
    def fonts(self) -> list[LoadedFont]:
        return [self.primary, *self.fallbacks]

    def font_for(self, char: str, where: str) -> LoadedFont:
        for font in self.fonts:
            if font.covers(char):
                return font
        raise GlyphMissing(char, where, [Path(f.path).name for f in self.fonts])

    def check(self, text: str, where: str) -> None:
        """Raise :class:`GlyphMissing` for the first character no font covers."""
        for ch in text:
            self.font_for(ch, where)

    def runs(self, text: str, where: str) -> list[tuple[str, str]]:
        """``text`` split into ``(font name, substring)`` runs; every character is covered."""
        out: list[tuple[str, str]] = []
        for ch in text:
            font = self.font_for(ch, where).name
            if out and out[-1][0] == font:
                out[-1] = (font, out[-1][1] + ch)
            else:
                out.append((font, ch))
        return out


_lock = threading.Lock()
_cached: FontSet | None = None


def font_set() -> FontSet:
    """The process-wide font set (loaded on first use)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = _build()
        return _cached


def _build() -> FontSet:
    configured = os.environ.get(FONT_ENV)
    candidates = [Path(configured)] if configured else _find(_PRIMARY_NAMES)
    if not candidates or not candidates[0].is_file():
        raise RenderError(
            "no CJK font for the license face: install Debian's fonts-wqy-zenhei "
            f"(apt-get install fonts-wqy-zenhei) or set {FONT_ENV} to a .ttf/.ttc path",
            code="LICENSE_FONT",
        )
    primary = _load("TongbanCJK", candidates[0])
    env_fallbacks = os.environ.get(FALLBACK_ENV)
    paths = [Path(p) for p in env_fallbacks.split(":") if p] if env_fallbacks else _find(_FALLBACK_NAMES)[:1]
    fallbacks = [_load(f"TongbanFallback{i}", p) for i, p in enumerate(paths) if p.is_file()]
    return FontSet(primary, fallbacks)
