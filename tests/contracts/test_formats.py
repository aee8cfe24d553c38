"""JSON Lines reading: UTF-8 and GB18030/GBK (declared or detected) give the same rows."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from contracts.errors import EncodingError, FormatError
from contracts.formats import (
    detect_encoding,
    dumps_row,
    iter_text_lines,
    normalize_encoding,
    read_lines,
    read_rows,
    write_rows,
)

ROWS = [
    {
        "table": "up_pro_accept",
        "project_no": "P1",
        "applyer_name": "张三丰",
        "org_name": "大邑县市场监督管理局",
    },
    {"table": "up_pro_process", "project_no": "P1", "node_name": "受理", "opinion": "材料齐全，予以受理。"},
    {"table": "up_pro_material", "project_no": "P1", "material_name": "ID copy"},
]


def _text() -> str:
    buf = io.StringIO()
    write_rows(buf, ROWS)
    return buf.getvalue()


def test_dumps_row_puts_table_first_and_keeps_chinese() -> None:
    line = dumps_row({"project_no": "P1", "table": "up_pro_accept", "applyer_name": "张三"})
    assert line.startswith('{"table":"up_pro_accept"')
    assert "张三" in line
    assert "\n" not in line


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_same_rows_from_every_encoding(codec: str, tmp_path: Path) -> None:
    data = _text().encode(codec)
    p = tmp_path / f"cases.{codec}.jsonl"
    p.write_bytes(data)
    assert list(read_rows(p)) == ROWS  # detected
    assert list(read_rows(data, encoding=codec)) == ROWS  # declared
    with p.open("rb") as fh:
        assert list(read_rows(fh)) == ROWS


def test_crlf_and_blank_lines() -> None:
    data = ("\r\n".join(dumps_row(r) for r in ROWS) + "\r\n\r\n").encode("gbk")
    assert list(read_rows(data)) == ROWS


def test_detection_waits_for_the_first_non_ascii_line() -> None:
    lines = [dumps_row({"table": "up_pro_material", "n": i}) for i in range(100)]
    lines.append(dumps_row(ROWS[0]))
    data = ("\n".join(lines) + "\n").encode("gb18030")
    assert list(read_rows(data))[-1] == ROWS[0]


def test_detect_encoding() -> None:
    assert detect_encoding(b'{"a":1}') == "utf-8"
    assert detect_encoding("张三".encode()) == "utf-8"
    assert detect_encoding("\ufeff张三".encode()) == "utf-8-sig"
    assert detect_encoding("大邑县政务服务中心".encode("gbk")) == "gb18030"
    with pytest.raises(EncodingError):
        detect_encoding(b"\xff\xfe\x00\x01\x80\x81\xfe")


def test_undetectable_and_mixed_files_raise_named_errors() -> None:
    with pytest.raises(EncodingError, match="line 1"):
        list(read_rows(b'{"x":"\x80\x80\x80\x80"}\n'))
    mixed = dumps_row(ROWS[0]).encode("utf-8") + b"\n" + dumps_row(ROWS[1]).encode("gbk") + b"\n"
    with pytest.raises(EncodingError, match="line 2"):
        list(read_rows(mixed))
    with pytest.raises(EncodingError, match="unsupported"):
        normalize_encoding("latin-1")


def test_bad_lines_are_reported_not_fatal_in_read_lines() -> None:
    data = (dumps_row(ROWS[0]) + "\n{broken\n[1,2]\n" + dumps_row(ROWS[2]) + "\n").encode()
    parsed = list(read_lines(data))
    assert [p.line for p in parsed] == [1, 2, 3, 4]
    assert parsed[0].row == ROWS[0]
    assert parsed[1].row is None and parsed[1].error and "JSON" in parsed[1].error
    assert parsed[2].row is None and parsed[2].error == "not a JSON object"
    with pytest.raises(FormatError, match="line 2"):
        list(read_rows(data))
    assert [n for n, _ in iter_text_lines(data)] == [1, 2, 3, 4]
