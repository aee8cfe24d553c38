"""Helpers that run the independent tools (pdfsig, openssl, qpdf, pdftotext) on a signed PDF."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def extract_signature(pdf: bytes) -> tuple[bytes, bytes]:
    """(signed bytes = the /ByteRange parts concatenated, the CMS DER trimmed to its length)."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m, "no /ByteRange"
    a, b, c, d = (int(x) for x in m.groups())
    signed = pdf[a : a + b] + pdf[c : c + d]
    hexdata = pdf[a + b : c].strip().lstrip(b"<").rstrip(b">")
    der = bytes.fromhex(hexdata.decode())
    assert der[0] == 0x30
    if der[1] & 0x80:
        n = der[1] & 0x7F
        length = 2 + n + int.from_bytes(der[2 : 2 + n], "big")
    else:
        length = 2 + der[1]
    return signed, der[:length]


def openssl_cms_verify(
    pdf: bytes, roots: list[x509.Certificate], work: Path
) -> subprocess.CompletedProcess[str]:
    signed, der = extract_signature(pdf)
    (work / "signed.bin").write_bytes(signed)
    (work / "sig.der").write_bytes(der)
    (work / "roots.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in roots))
    return subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(work / "sig.der"),
            "-content",
            str(work / "signed.bin"),
            "-CAfile",
            str(work / "roots.pem"),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=False)
