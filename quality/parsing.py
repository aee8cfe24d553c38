"""Reading a case batch file: decoding (UTF-8, or GB18030 when declared or detected with
confidence) and JSON Lines parsing, with line numbers and byte offsets for every fault.

Rows in = non-blank lines. A line that is not JSON, or JSON but not an object, is a row that fails
``row.not_json``. A file is *unparseable as a whole* (quarantined whole, ``file_quarantined``) when
its bytes cannot be decoded in any accepted encoding, or when not one of its lines is a JSON
object; the fault names the line and the byte offset (0-based, in the file as received).

Encoding detection: UTF-8 first (a BOM is dropped). When strict UTF-8 fails, the file is treated
as damaged UTF-8 if most of its multi-byte sequences are valid UTF-8 (a corrupted byte, not
another encoding); otherwise GB18030 (a superset of GBK) is tried strictly. A declared encoding
is used as given.

Public API::

    FileFault(line, byte_offset, message)
    ParsedBatch(values, lines, texts, bad, rows, encoding, fault)
    parse_batch(data: bytes, *, encoding=None) -> ParsedBatch
    count_lines(data: bytes) -> int                 # non-blank lines of undecodable bytes
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

_BYTE_POS = re.compile(r"byte (\d+)")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class FileFault:
    line: int  # 1-based
    byte_offset: int  # 0-based, in the file as received
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "byte_offset": self.byte_offset, "message": self.message}


@dataclass(frozen=True)
class BadLine:
    line: int
    byte_offset: int
    message: str
    text: str


@dataclass
class ParsedBatch:
    """The decoded rows of a batch (JSON values in file order) and what could not be read."""

    values: list[Any] = field(default_factory=list)  # one decoded JSON value per good line
    lines: list[int] = field(default_factory=list)  # its 1-based line number
    texts: list[str] = field(default_factory=list)  # its text as received (evidence for quarantine)
    bad: list[BadLine] = field(default_factory=list)  # lines that are not JSON
    rows: int = 0  # non-blank lines = rows in
    encoding: str = "utf-8"
    fault: FileFault | None = None


def count_lines(data: bytes) -> int:
    """Non-blank lines of a byte string (for a file that cannot be decoded)."""
    return sum(1 for line in data.split(b"\n") if line.strip())


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes, encoding: str | None) -> tuple[str, str] | FileFault:
    if encoding:
        try:
            return data.decode(encoding), encoding.lower()
        except (UnicodeDecodeError, LookupError) as exc:
            pos = getattr(exc, "start", 0)
            return FileFault(_line_of(data, pos), pos, f"not valid {encoding}: {exc}")
    body = data[3:] if data.startswith(_BOM) else data
    skip = len(data) - len(body)
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    # damaged UTF-8, or another encoding? Count well-formed multi-byte characters vs. bad bytes.
    lenient = body.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    good_multibyte = sum(1 for ch in lenient if ord(ch) > 0x7F) - bad
    if good_multibyte < 2 * bad:
        try:
            return body.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            pass
    pos = skip + utf8_error.start
    return FileFault(
        _line_of(data, pos),
        pos,
        f"cannot decode the file: byte 0x{data[pos]:02x} at offset {pos} is not valid UTF-8 "
        "(and the file is not GB18030 either); declare the encoding or fix the file",
    )


def parse_batch(data: bytes, *, encoding: str | None = None) -> ParsedBatch:
    """Decode and parse a JSON Lines batch; never raises for bad content (faults are data)."""
    decoded = _decode(data, encoding)
    if isinstance(decoded, FileFault):
        return ParsedBatch(rows=count_lines(data), fault=decoded)
    text, used = decoded
    out = ParsedBatch(encoding=used)
    decoder = msgspec.json.Decoder()
    raw_lines = text.split("\n")
    line_bytes: list[bytes] | None = None
    offsets: list[int] | None = None

    def byte_offset(index: int, char_pos: int, line_text: str) -> int:
        nonlocal line_bytes, offsets
        if offsets is None:
            line_bytes = data.split(b"\n")
            running, offsets = 0, []
            for b in line_bytes:
                offsets.append(running)
                running += len(b) + 1
        prefix = line_text[:char_pos].encode(used, errors="replace")
        bom = len(_BOM) if index == 0 and data.startswith(_BOM) and used == "utf-8" else 0
        return offsets[index] + bom + len(prefix)

    crlf = "\r" in text
    decode = decoder.decode
    values_append, lines_append, texts_append = out.values.append, out.lines.append, out.texts.append
    for index, raw in enumerate(raw_lines):
        line_text = raw[:-1] if crlf and raw.endswith("\r") else raw
        if not line_text or line_text.isspace():  # blank (isspace stops at the first other char)
            continue
        out.rows += 1
        try:
            value = decode(line_text)
        except msgspec.DecodeError as exc:
            m = _BYTE_POS.search(str(exc))
            char_pos = 0
            if m:
                as_utf8 = line_text.encode("utf-8")
                char_pos = len(as_utf8[: int(m.group(1))].decode("utf-8", errors="ignore"))
            out.bad.append(BadLine(index + 1, byte_offset(index, char_pos, line_text), str(exc), line_text))
            continue
        if not isinstance(value, dict):
            message = f"a JSON {type(value).__name__} where a JSON object was expected"
            out.bad.append(BadLine(index + 1, byte_offset(index, 0, line_text), message, line_text))
            continue
        values_append(value)
        lines_append(index + 1)
        texts_append(line_text)
    if out.rows and not out.values:
        first = out.bad[0]
        out.fault = FileFault(
            first.line,
            first.byte_offset,
            f"no line of the file is a JSON object; first fault: {first.message}",
        )
    return out
