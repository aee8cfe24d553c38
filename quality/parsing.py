"""Reading a case batch file: decoding (UTF-8, or GB18030 when declared or detected with
confidence) and JSON Lines parsing, with line numbers and byte offsets for every fault.

Rows in = non-blank lines. A line that cannot be read as one row fails ``row.not_json`` with the
cause in its message, and the lines beside it are read as usual:

* not JSON, or JSON but not an object;
* bytes that are not valid in the file's encoding (a damaged byte spoils its line, not the file);
* longer than :data:`MAX_LINE_CHARS` (refused before parsing; the evidence kept is its head);
* more than :data:`MAX_COLUMNS` keys, or nested deeper than :data:`MAX_DEPTH` (a row is flat);
* a key given twice (JSON parsers keep the last one silently; a row must not say two things).

A file is *unparseable as a whole* (quarantined whole, ``file_quarantined``) when its bytes cannot
be decoded in any accepted encoding, or when not one of its lines is a JSON object; the fault
names the line and the byte offset (0-based, in the file as received).

Encoding detection: UTF-8 first (a BOM is dropped). When strict UTF-8 fails, the file is treated
as damaged UTF-8 if most of its multi-byte sequences are valid UTF-8 (a corrupted byte, not
another encoding) and each line is decoded alone; otherwise GB18030 (a superset of GBK) is tried
strictly. A declared encoding is used as given.

Public API::

    FileFault(line, byte_offset, message)
    ParsedBatch(values, lines, texts, bad, rows, encoding, fault)
    parse_batch(data: bytes, *, encoding=None) -> ParsedBatch
    count_lines(data: bytes) -> int                 # non-blank lines of undecodable bytes
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

_BYTE_POS = re.compile(r"byte (\d+)")
_BOM = b"\xef\xbb\xbf"

MAX_LINE_CHARS = 1_000_000  # a case row is a few hundred characters; refused before parsing above this
MAX_COLUMNS = 500  # keys of one row (the widest case table has fewer than 40 columns)
MAX_DEPTH = 8  # nesting of one row (rows are flat; a nested value is a field.type failure)
EVIDENCE_CHARS = 4096  # of a refused over-long line, this head is kept as evidence


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


def _decode(data: bytes, encoding: str | None) -> tuple[str, str, dict[int, str]] | FileFault:
    """(text, encoding used, {line index: why it could not be decoded}) or the whole file's fault."""
    if encoding:
        try:
            return data.decode(encoding), encoding.lower(), {}
        except (UnicodeDecodeError, LookupError) as exc:
            pos = getattr(exc, "start", 0)
            return FileFault(_line_of(data, pos), pos, f"not valid {encoding}: {exc}")
    body = data[3:] if data.startswith(_BOM) else data
    skip = len(data) - len(body)
    try:
        return body.decode("utf-8"), "utf-8", {}
    except UnicodeDecodeError:
        pass
    # damaged UTF-8, or another encoding? Count well-formed multi-byte characters vs. bad bytes.
    lenient = body.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    good_multibyte = sum(1 for ch in lenient if ord(ch) > 0x7F) - bad
    if good_multibyte < 2 * bad:
        try:
            return body.decode("gb18030"), "gb18030", {}
        except UnicodeDecodeError:
            pass
    # damaged UTF-8 (or neither encoding): each line alone; a file is whole-faulted only when no
    # line of it can be read (parse_batch: "no line of the file is a JSON object")
    return _decode_lines(data, skip)


def _decode_lines(data: bytes, skip: int) -> tuple[str, str, dict[int, str]]:
    """Damaged UTF-8: each line decoded alone; a line with a bad byte is replaced by its lenient
    text and named, so the good lines beside it are read as usual."""
    lines = data.split(b"\n")
    texts: list[str] = []
    bad: dict[int, str] = {}
    offset = 0
    for index, raw in enumerate(lines):
        body = raw[skip:] if index == 0 else raw
        try:
            texts.append(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            pos = offset + (skip if index == 0 else 0) + exc.start
            bad[index] = f"byte 0x{body[exc.start]:02x} at offset {pos} is not valid UTF-8"
            texts.append(body.decode("utf-8", errors="replace"))
        offset += len(raw) + 1
    return "\n".join(texts), "utf-8", bad


def _evidence(line_text: str) -> str:
    """What a bad line keeps as evidence: all of it, or the head of a huge one (the raw batch object
    in the store keeps every byte)."""
    if len(line_text) <= 16 * EVIDENCE_CHARS:
        return line_text
    return line_text[:EVIDENCE_CHARS] + f"… ({len(line_text)} characters; the raw batch has all)"


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(v, 1) for v in value.values() if isinstance(v, dict | list)]
    while stack:
        v, depth = stack.pop()
        if depth >= limit:
            return True
        children = v.values() if isinstance(v, dict) else v
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _repeated_key(line_text: str, value: dict[str, Any]) -> str | None:
    """The first key given twice in ``line_text`` (None: none). Fast path: in a flat object every
    unescaped quote belongs to a key or a string value of the decoded object; only when the count
    differs (a repeated key, escapes, nesting) is the line parsed again with its key pairs."""
    strings = list(map(type, value.values())).count(str)
    if line_text.count('"') == 2 * (len(value) + strings) and "\\" not in line_text:
        return None
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for k, _ in items:
            if k in seen and not repeated:
                repeated.append(k)
            seen.add(k)
        return dict(items)

    try:
        json.loads(line_text, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None
    return repeated[0] if repeated else None


def _refusal(line_text: str, value: Any) -> str | None:
    """Why a decoded line is not one row (None: it is one)."""
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__} where a JSON object was expected"
    if len(value) > MAX_COLUMNS:
        return f"{len(value)} keys in one row (at most {MAX_COLUMNS})"
    flat = "[" not in line_text and line_text.count("{") == 1
    if not flat and _too_deep(value, MAX_DEPTH):
        return f"nested deeper than {MAX_DEPTH} levels (a row is a flat object)"
    key = _repeated_key(line_text, value)
    if key is not None:
        return f"key {key!r} is given more than once"
    return None


def parse_batch(data: bytes, *, encoding: str | None = None) -> ParsedBatch:
    """Decode and parse a JSON Lines batch; never raises for bad content (faults are data)."""
    decoded = _decode(data, encoding)
    if isinstance(decoded, FileFault):
        return ParsedBatch(rows=count_lines(data), fault=decoded)
    text, used, undecodable = decoded
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
        if index in undecodable:
            out.bad.append(
                BadLine(index + 1, byte_offset(index, 0, line_text), undecodable[index], line_text)
            )
            continue
        if len(line_text) > MAX_LINE_CHARS:
            message = f"the line has {len(line_text)} characters (at most {MAX_LINE_CHARS}); not parsed"
            out.bad.append(
                BadLine(index + 1, byte_offset(index, 0, line_text), message, _evidence(line_text))
            )
            continue
        try:
            value = decode(line_text)
        except RecursionError:
            message = "nested too deeply to parse (a row is a flat object)"
            out.bad.append(
                BadLine(index + 1, byte_offset(index, 0, line_text), message, _evidence(line_text))
            )
            continue
        except msgspec.DecodeError as exc:
            m = _BYTE_POS.search(str(exc))
            char_pos = 0
            if m:
                as_utf8 = line_text.encode("utf-8")
                char_pos = len(as_utf8[: int(m.group(1))].decode("utf-8", errors="ignore"))
            out.bad.append(BadLine(index + 1, byte_offset(index, char_pos, line_text), str(exc), line_text))
            continue
        refused = _refusal(line_text, value)
        if refused is not None:
            out.bad.append(
                BadLine(index + 1, byte_offset(index, 0, line_text), refused, _evidence(line_text))
            )
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
