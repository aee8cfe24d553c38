"""Case-file formats (DOMAIN.md §5): JSON Lines, one row per line, each row tagged with its
table (``"table": "up_pro_accept"``); business dates ``YYYY-MM-DD``; timestamps ISO 8601 with
offset. Feeds arrive in UTF-8 or GB18030/GBK: they are transcoded, not rejected, when the
encoding is declared or detected with confidence.

Detection works line by line and streams: ASCII-only lines decode as they are; the first line
with other bytes decides — UTF-8 (with or without BOM) if it decodes strictly as UTF-8, else
GB18030 (a superset of GBK and GB2312) if it decodes strictly and most of its non-ASCII
characters are CJK. The decision then holds for the whole file; a later line that does not
decode raises :class:`~contracts.errors.EncodingError` naming the line. Splitting on ``\\n`` is
safe for both encodings (0x0A is never a trail byte).

Public API::

    TABLE_KEY = "table"
    dumps_row(row: Mapping) -> str              # one line, no newline, "table" first
    write_rows(out: TextIO, rows: Iterable[Mapping]) -> int
    normalize_encoding(name: str) -> str        # GBK / gb2312 / GB18030 -> "gb18030"; utf8 -> "utf-8"
    detect_encoding(data: bytes) -> str         # "utf-8" | "utf-8-sig" | "gb18030"; raises EncodingError
    iter_text_lines(source, *, encoding=None) -> Iterator[tuple[int, str]]   # (1-based line, text)
    read_lines(source, *, encoding=None) -> Iterator[ParsedLine]   # bad JSON -> ParsedLine.error
    read_rows(source, *, encoding=None) -> Iterator[dict]          # strict: FormatError on a bad line
    ParsedLine(line: int, row: dict | None, error: str | None)

``source`` is a path (str / Path), ``bytes``, or a binary file object.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from contracts.errors import EncodingError, FormatError

TABLE_KEY = "table"
_UTF8_BOM = b"\xef\xbb\xbf"
_CJK_SHARE = 0.6

Source = str | Path | bytes | IO[bytes]


def dumps_row(row: Mapping[str, Any]) -> str:
    """Serialize one row as a JSON Lines line (UTF-8 text, no trailing newline), ``table`` first."""
    if TABLE_KEY in row:
        ordered: dict[str, Any] = {TABLE_KEY: row[TABLE_KEY]}
        ordered.update((k, v) for k, v in row.items() if k != TABLE_KEY)
        row = ordered
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)


def write_rows(out: TextIO, rows: Iterable[Mapping[str, Any]]) -> int:
    n = 0
    for row in rows:
        out.write(dumps_row(row))
        out.write("\n")
        n += 1
    return n


def normalize_encoding(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    if key in ("utf-8", "utf8"):
        return "utf-8"
    if key in ("utf-8-sig", "utf8-sig"):
        return "utf-8-sig"
    if key in ("gbk", "gb2312", "gb-2312", "gb18030", "gb-18030", "cp936", "euc-cn"):
        return "gb18030"
    raise EncodingError(f"unsupported encoding {name!r}: use UTF-8, GB18030, GBK or GB2312")


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x2EBEF
        or 0x3000 <= o <= 0x303F  # CJK punctuation
        or 0xFF00 <= o <= 0xFFEF  # full-width forms
        or 0xF900 <= o <= 0xFAFF
    )


def _guess(raw: bytes) -> str | None:
    """Encoding of a chunk with non-ASCII bytes, or None when not confident."""
    if raw.startswith(_UTF8_BOM):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    non_ascii = [c for c in text if ord(c) > 0x7F]
    if non_ascii and sum(_is_cjk(c) for c in non_ascii) / len(non_ascii) >= _CJK_SHARE:
        return "gb18030"
    return None


def detect_encoding(data: bytes) -> str:
    """Encoding of a whole buffer: ``utf-8`` (also for pure ASCII), ``utf-8-sig`` or ``gb18030``."""
    if data.isascii():
        return "utf-8"
    found = _guess(data)
    if found is None:
        raise EncodingError(
            "cannot detect the encoding with confidence (not UTF-8, not GB18030 text); declare it"
        )
    return found


def _open(source: Source) -> tuple[IO[bytes], bool]:
    if isinstance(source, bytes):
        return io.BytesIO(source), True
    if isinstance(source, str | Path):
        return open(source, "rb"), True
    return source, False


def iter_text_lines(source: Source, *, encoding: str | None = None) -> Iterator[tuple[int, str]]:
    """Decode ``source`` line by line (declared ``encoding`` or detected); yields (line number, text)."""
    codec = normalize_encoding(encoding) if encoding else None
    fh, close = _open(source)
    try:
        for lineno, raw_line in enumerate(fh, start=1):
            raw = raw_line
            if lineno == 1 and raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM) :]
                if codec is None:
                    codec = "utf-8"
            if codec is None:
                if raw.isascii():
                    yield lineno, raw.decode("ascii").rstrip("\r\n")
                    continue
                codec = _guess(raw)
                if codec is None:
                    raise EncodingError(
                        f"line {lineno}: cannot detect the encoding with confidence (not UTF-8, not GB18030 "
                        "text); declare it"
                    )
                codec = "utf-8" if codec == "utf-8-sig" else codec
            try:
                text = raw.decode("utf-8" if codec == "utf-8-sig" else codec)
            except UnicodeDecodeError as exc:
                raise EncodingError(f"line {lineno}: bytes are not {codec} ({exc.reason})") from exc
            yield lineno, text.rstrip("\r\n")
    finally:
        if close:
            fh.close()


@dataclass(frozen=True, slots=True)
class ParsedLine:
    line: int
    row: dict[str, Any] | None
    error: str | None = None


def read_lines(source: Source, *, encoding: str | None = None) -> Iterator[ParsedLine]:
    """Parse each non-blank line as a JSON object; a bad line yields ``row=None`` with ``error``.
    Encoding problems still raise :class:`EncodingError` (the file cannot be read at all)."""
    for lineno, text in iter_text_lines(source, encoding=encoding):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            yield ParsedLine(lineno, None, f"not JSON: {exc.args[0] if exc.args else exc}")
            continue
        if not isinstance(value, dict):
            yield ParsedLine(lineno, None, "not a JSON object")
            continue
        yield ParsedLine(lineno, value)


def read_rows(source: Source, *, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """Every row of a case file; raises :class:`FormatError` on the first bad line."""
    for parsed in read_lines(source, encoding=encoding):
        if parsed.row is None:
            raise FormatError(f"line {parsed.line}: {parsed.error}")
        yield parsed.row
