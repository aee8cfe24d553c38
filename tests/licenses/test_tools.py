"""Acceptance by tools we did not write: pdfsig, openssl cms, qpdf, pdftotext, a QR scanner
(pdftoppm + zbarimg) and openssl ts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from licenses import LicenseRegistry
from tests.licenses.conftest import LicEnv, business_request, property_request
from tests.licenses.throwaway_pki import make_pki
from tests.licenses.tools import extract_signature, openssl_cms_verify, run

pytestmark = pytest.mark.tools

NEEDED = ("pdfsig", "pdftotext", "pdftoppm", "qpdf", "openssl", "zbarimg")


@pytest.fixture(scope="module")
def issued(lic_env: LicEnv, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    missing = [t for t in NEEDED if shutil.which(t) is None]
    if missing:
        pytest.fail(
            f"tools missing: {missing} (./run setup installs poppler-utils, qpdf, openssl, zbar-tools)"
        )
    reg: LicenseRegistry = lic_env.registry
    lic = reg.issue(business_request(KZ_JYFW="餐饮服务；食品销售（仅销售预包装食品）；外卖递送服务。"))
    pdf = reg.file(lic.license_id)
    work = tmp_path_factory.mktemp("tools")
    (work / "license.pdf").write_bytes(pdf)
    return pdf, work


def test_pdfsig_reports_the_certification_signature_valid(issued: tuple[bytes, Path]) -> None:
    _pdf, work = issued
    out = run("pdfsig", "-nocert", str(work / "license.pdf"))
    assert out.returncode == 0, out.stderr
    assert "Signature Validation: Signature is Valid." in out.stdout
    assert "Signature Field Name: ZZQZ" in out.stdout
    assert "ETSI.CAdES.detached" in out.stdout


def test_openssl_cms_verifies_against_our_root_and_not_a_foreign_one(
    issued: tuple[bytes, Path], lic_env: LicEnv
) -> None:
    pdf, work = issued
    ours = openssl_cms_verify(pdf, lic_env.pki.trust_roots(), work)
    assert ours.returncode == 0, ours.stderr
    assert "Verification successful" in ours.stderr
    foreign = openssl_cms_verify(pdf, [make_pki("外部").root], work)
    assert foreign.returncode != 0
    assert "certificate verify error" in foreign.stderr or "unable to get local issuer" in foreign.stderr


def test_openssl_cms_detects_a_changed_byte(issued: tuple[bytes, Path], lic_env: LicEnv) -> None:
    pdf, work = issued
    i = pdf.index(b"/Producer")
    bad = pdf[:i] + b"/Producex" + pdf[i + 9 :]
    out = openssl_cms_verify(bad, lic_env.pki.trust_roots(), work)
    assert out.returncode != 0
    assert "content verify error" in out.stderr or "digest failure" in out.stderr


def test_qpdf_check_is_clean(issued: tuple[bytes, Path]) -> None:
    _pdf, work = issued
    out = run("qpdf", "--check", str(work / "license.pdf"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No syntax or stream encoding errors found" in out.stdout


def test_pdftotext_gives_back_the_chinese_text(issued: tuple[bytes, Path], lic_env: LicEnv) -> None:
    pdf, work = issued
    text = run("pdftotext", "-enc", "UTF-8", str(work / "license.pdf"), "-").stdout
    flat = "".join(text.split())
    meta = lic_env.registry.metadata(
        next(m for m in [extract_meta_id(pdf)] if m)  # the identifier read back from the file
    )
    for value in [
        "营业执照",
        "样例",
        meta["CZZT"],
        meta["KZ"]["KZ_JYFW"],
        meta["KZ"]["KZ_JYCS"],
        f"发证机关：{meta['ZZBFJG']}",
        f"电子证照标识：{meta['ZZBS']}",
        "电子证照专用章",
    ]:
        assert "".join(value.split()) in flat, value


def test_a_qr_scanner_reads_the_verify_link_off_the_printed_page(
    issued: tuple[bytes, Path], lic_env: LicEnv
) -> None:
    """The page as a phone camera would see it (rasterised at 150 dpi): the QR decodes to the verify
    page of this license with its verification code (核验码, printed with dashes, sent without)."""
    from urllib.parse import parse_qs, urlsplit

    pdf, work = issued
    out = run("pdftoppm", "-r", "150", "-png", "-singlefile", str(work / "license.pdf"), str(work / "page"))
    assert out.returncode == 0, out.stderr
    scan = run("zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(work / "page.png"))
    assert scan.returncode == 0, scan.stderr
    (link,) = scan.stdout.strip().splitlines()
    lid = extract_meta_id(pdf)
    view = lic_env.registry.get(lid)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == lic_env.registry.verify_url
    assert parse_qs(parts.query) == {"id": [lid], "code": [view.verify_code.replace("-", "")]}


def extract_meta_id(pdf: bytes) -> str:
    from licenses import certified_revision_length
    from licenses._verify import _read_attachment

    meta = _read_attachment(pdf[: certified_revision_length(pdf)])
    assert meta is not None
    return str(meta["ZZBS"])


def test_openssl_ts_verifies_the_signature_timestamp(issued: tuple[bytes, Path], lic_env: LicEnv) -> None:
    from asn1crypto import cms

    pdf, work = issued
    _signed, der = extract_signature(pdf)
    info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    token = next(a for a in info["unsigned_attrs"] if a["type"].native == "signature_time_stamp_token")
    (work / "token.der").write_bytes(token["values"][0].dump())
    (work / "sigvalue.bin").write_bytes(info["signature"].native)
    roots = b"".join(
        c.public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM
        )
        for c in lic_env.pki.trust_roots()
    )
    (work / "ts-roots.pem").write_bytes(roots)
    out = run(
        "openssl",
        "ts",
        "-verify",
        "-token_in",
        "-in",
        str(work / "token.der"),
        "-data",
        str(work / "sigvalue.bin"),
        "-CAfile",
        str(work / "ts-roots.pem"),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Verification: OK" in out.stdout


def test_several_holders_on_a_property_certificate(lic_env: LicEnv, tmp_path: Path) -> None:
    reg = lic_env.registry
    lic = reg.issue(property_request("510129001001GB00001F00010001", owners=3))
    view = reg.get(lic.license_id)
    assert [h.name for h in view.holders] == ["王五", "赵六", "孙七"]
    assert view.issuer_name == "大邑县自然资源局"
    (tmp_path / "p.pdf").write_bytes(reg.file(lic.license_id))
    text = "".join(run("pdftotext", str(tmp_path / "p.pdf"), "-").stdout.split())
    assert "不动产权证书" in text and "王五、赵六、孙七" in text and "共同共有" in text
    assert "Signature is Valid." in run("pdfsig", "-nocert", str(tmp_path / "p.pdf")).stdout


def test_metadata_as_xmp_and_json_attachment(issued: tuple[bytes, Path]) -> None:
    pdf, work = issued
    listed = run("pdfdetach", "-list", str(work / "license.pdf")).stdout
    assert "license.json" in listed
    out = run("pdfdetach", "-save", "1", "-o", str(work / "meta.json"), str(work / "license.pdf"))
    assert out.returncode == 0, out.stderr
    import json as _json

    meta = _json.loads((work / "meta.json").read_text("utf-8"))
    assert meta["ZZMC"] == "营业执照" and meta["ZZZT"] == "01" and meta["ZZBS"].startswith("1.2.156.3005.2.")
    assert f"<tbzz:ZZBS>{meta['ZZBS']}</tbzz:ZZBS>".encode() in pdf  # XMP (uncompressed metadata stream)
    assert b"<tbzz:ZZBFJGDM>" in pdf and b"<dc:title>" in pdf
