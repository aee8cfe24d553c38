"""A log line is one line (issue 20): a request path with ``%0A``, a field with CR/LF or a bidi
override cannot forge a second line or hide text in the key=value format; JSON escapes by itself."""

from __future__ import annotations

import io
import json
import logging

import pytest

from core.logging import JsonFormatter, KeyValueFormatter, RedactingFilter, escape_line


@pytest.mark.parametrize("formatter", [KeyValueFormatter(), JsonFormatter()], ids=["kv", "json"])
def test_control_and_bidi_characters_cannot_forge_a_log_line(formatter: logging.Formatter) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("tongban.test.forge")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning(
            'GET /v1/x\ninfo     tongban.api: login ok user=admin HTTP/1.1" 200',
            extra={"cause": "a\r\nb\u202ec"},
        )
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "\u202e" not in text
    if isinstance(formatter, JsonFormatter):
        assert json.loads(text)["cause"] == "a\r\nb\u202ec"  # JSON keeps the value, escaped


def test_escape_line_keeps_chinese_and_plain_text() -> None:
    assert escape_line("大邑县 营业执照 ok=1") == "大邑县 营业执照 ok=1"
    assert escape_line("a\nb") == "a\\x0ab"
    assert escape_line("x\u202ey") == "x\\u202ey"
