"""The RFC 3161 TSA in-process and over HTTP (a real uvicorn server on loopback), checked by openssl;
the CRL and certificate routes with their caching headers; the core timestamp client."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.errors import ConfigError
from core.timestamp import (
    QUERY_CONTENT_TYPE,
    TimestampClient,
    TimestampInvalid,
    TimestampRejected,
    TimestampUnavailable,
    build_request,
    client_from_settings,
    inspect_token,
    parse_response,
    register_local_responder,
)
from gateway.pki_routes import create_pki_app
from licenses.pki import TSA_POLICY_OID, CertificateRevoked, Pki, register_in_process_tsa, timestamp_client
from tests.pki.conftest import RunningServer

Openssl = Callable[..., CompletedProcess[str]]
DATA = "办件 510129-2026-000123 受理回执".encode()


def ts_verify_args(trust: Path) -> list[str | Path]:
    return ["ts", "-verify", "-CAfile", trust / "root.pem", "-untrusted", trust / "issuing.pem"]


@pytest.fixture
def trust(pki: Pki, tmp_path: Path) -> Path:
    pki.export_trust(tmp_path / "trust")
    return tmp_path / "trust"


@pytest.mark.tools
def test_in_process_tokens_verify_with_openssl(
    pki: Pki, trust: Path, openssl: Openssl, tmp_path: Path
) -> None:
    (tmp_path / "data.bin").write_bytes(DATA)
    made = openssl(
        "ts", "-query", "-data", tmp_path / "data.bin", "-sha256", "-cert", "-out", tmp_path / "q.tsq"
    )
    assert made.returncode == 0, made.stderr
    reply = pki.tsa().respond((tmp_path / "q.tsq").read_bytes())
    (tmp_path / "r.tsr").write_bytes(reply)
    done = openssl(*ts_verify_args(trust), "-in", tmp_path / "r.tsr", "-queryfile", tmp_path / "q.tsq")
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr
    text = openssl("ts", "-reply", "-in", tmp_path / "r.tsr", "-text").stdout
    assert f"Policy OID: {TSA_POLICY_OID}" in text and "Status: Granted." in text

    with timestamp_client(pki.settings, pki) as client:
        token = client.stamp(DATA)
    assert token.policy == TSA_POLICY_OID and token.message_imprint == hashlib.sha256(DATA).digest()
    assert token.tsa_certificate == pki.current("tsa").certificate  # type: ignore[union-attr]
    (tmp_path / "token.der").write_bytes(token.der)
    done = openssl(
        *ts_verify_args(trust), "-data", tmp_path / "data.bin", "-in", tmp_path / "token.der", "-token_in"
    )
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr
    (tmp_path / "other.bin").write_bytes(DATA + b"!")
    tampered = openssl(
        *ts_verify_args(trust), "-data", tmp_path / "other.bin", "-in", tmp_path / "token.der", "-token_in"
    )
    assert tampered.returncode != 0 and "message imprint mismatch" in tampered.stdout + tampered.stderr


@pytest.mark.tools
@pytest.mark.integration
def test_http_tsa_and_crl_routes_on_a_real_server(
    pki: Pki, trust: Path, openssl: Openssl, tmp_path: Path, serve_app: Callable[[Any], RunningServer]
) -> None:
    running = serve_app(create_pki_app(pki.settings, pki))
    (tmp_path / "data.bin").write_bytes(DATA)
    openssl("ts", "-query", "-data", tmp_path / "data.bin", "-sha256", "-cert", "-out", tmp_path / "q.tsq")
    with httpx.Client(base_url=running.url) as http:
        resp = http.post(
            "/pki/tsa",
            content=(tmp_path / "q.tsq").read_bytes(),
            headers={"Content-Type": QUERY_CONTENT_TYPE},
        )
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/timestamp-reply"
        nodelay = [s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in running.connection_sockets()]
        assert nodelay and all(nodelay), "the server must disable Nagle on its connections"
        (tmp_path / "r.tsr").write_bytes(resp.content)
        done = openssl(*ts_verify_args(trust), "-in", tmp_path / "r.tsr", "-queryfile", tmp_path / "q.tsq")
        assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr

        assert http.post("/pki/tsa", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
        too_big = http.post("/pki/tsa", content=b"\0" * 20000, headers={"Content-Type": QUERY_CONTENT_TYPE})
        assert too_big.status_code == 413

        # CRL with caching headers, conditional requests, HEAD
        crl = pki.crl()
        got = http.get("/pki/crl/issuing.crl")
        assert got.status_code == 200 and got.headers["content-type"] == "application/pkix-crl"
        assert got.content == crl.der
        assert x509.load_der_x509_crl(got.content).is_signature_valid(pki.issuing_certificate().public_key())  # type: ignore[arg-type]
        etag = got.headers["etag"]
        assert etag == f'"{crl.sha256}"'
        assert parsedate_to_datetime(got.headers["last-modified"]) == crl.this_update
        assert parsedate_to_datetime(got.headers["expires"]) == crl.next_update
        max_age = int(got.headers["cache-control"].split("max-age=")[1])
        assert 0 < max_age <= int((crl.next_update - crl.this_update).total_seconds())
        assert "public" in got.headers["cache-control"]
        assert http.get("/pki/crl/issuing.crl", headers={"If-None-Match": etag}).status_code == 304
        since = format_datetime(crl.this_update, usegmt=True)
        assert http.get("/pki/crl/issuing.crl", headers={"If-Modified-Since": since}).status_code == 304
        assert http.get("/pki/crl/issuing.crl", headers={"If-None-Match": '"old"'}).status_code == 200
        head = http.head("/pki/crl/root.crl")
        assert head.status_code == 200 and head.headers["etag"] == f'"{pki.crl("root").sha256}"'
        assert http.get("/pki/crl/other.crl").status_code == 404

        # a revocation changes the CRL (new ETag) at once
        pki.revoke(pki.seal("dayi-rsj").serial, "privilegeWithdrawn")
        fresh = http.get("/pki/crl/issuing.crl", headers={"If-None-Match": etag})
        assert fresh.status_code == 200 and fresh.headers["etag"] != etag
        assert len(x509.load_der_x509_crl(fresh.content)) == 1

        # AIA: the CA certificates
        root = http.get("/pki/certs/root.crt")
        assert root.headers["content-type"] == "application/pkix-cert"
        assert x509.load_der_x509_certificate(root.content) == pki.root_certificate()
        assert http.get("/pki/certs/issuing.crt").content == pki.issuing_certificate().public_bytes(
            serialization.Encoding.DER
        )
        assert http.get("/pki/certs/nothing.crt").status_code == 404

    # the core client over HTTP, keep-alive, checked by openssl
    with TimestampClient(url=running.url + "/pki/tsa") as client:
        tokens = [client.stamp(DATA + bytes([i])) for i in range(5)]
    assert len({t.serial_number for t in tokens}) == 5
    (tmp_path / "d4.bin").write_bytes(DATA + bytes([4]))
    (tmp_path / "t4.der").write_bytes(tokens[4].der)
    done = openssl(
        *ts_verify_args(trust), "-data", tmp_path / "d4.bin", "-in", tmp_path / "t4.der", "-token_in"
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _status(reply: bytes) -> tuple[str, set[str]]:
    from core.timestamp import TimeStampResp

    info = TimeStampResp.load(reply)["status"]
    return info["status"].native, set(info["fail_info"].native or ())


def test_tsa_refusals_follow_rfc3161(pki: Pki) -> None:
    tsa = pki.tsa()
    digest = hashlib.sha256(DATA).digest()
    assert _status(tsa.respond(b"\x30\x03\x02\x01\x01")) == ("rejection", {"bad_data_format"})
    sha1_req = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha1"}, "hashed_message": b"\1" * 20},
        }
    ).dump()
    assert _status(tsa.respond(sha1_req)) == ("rejection", {"bad_alg"})
    assert _status(tsa.respond(build_request(digest, policy="1.2.3.4"))) == (
        "rejection",
        {"unaccepted_policy"},
    )
    with_ext = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
            "extensions": [{"extn_id": "1.2.3.4.5", "critical": False, "extn_value": b"\x05\x00"}],
        }
    ).dump()
    assert _status(tsa.respond(with_ext)) == ("rejection", {"unaccepted_extensions"})
    with pytest.raises(TimestampRejected, match="unaccepted_policy"):
        TimestampClient(responder=tsa, policy="1.2.3.4").stamp(DATA)
    granted = TimestampClient(responder=tsa, policy=TSA_POLICY_OID).stamp(DATA)
    assert granted.policy == TSA_POLICY_OID

    # the client checks what comes back
    reply = tsa.respond(build_request(digest, nonce=7))
    with pytest.raises(TimestampInvalid, match="nonce"):
        parse_response(reply, digest=digest, nonce=8)
    with pytest.raises(TimestampInvalid, match="imprint"):
        parse_response(reply, digest=hashlib.sha256(b"other").digest(), nonce=7)
    token = parse_response(reply, digest=digest, nonce=7).der
    forged = bytearray(token)
    at = forged.find(digest)
    forged[at] ^= 1  # change the imprint inside the TSTInfo: the signature no longer matches
    with pytest.raises(TimestampInvalid, match="message digest"):
        inspect_token(bytes(forged))
    no_cert = parse_response(
        tsa.respond(build_request(digest, nonce=9, cert_req=False)), digest=digest, nonce=9
    )
    assert no_cert.tsa_certificate is None


def test_revoked_tsa_stops_signing(pki: Pki, serve_app: Callable[[Any], RunningServer]) -> None:
    pki.tsa()
    tsa_serial = pki.current("tsa").serial  # type: ignore[union-attr]
    pki.revoke(tsa_serial, "keyCompromise")
    with pytest.raises(CertificateRevoked):
        pki.tsa()
    running = serve_app(create_pki_app(pki.settings, pki))
    with pytest.raises(TimestampUnavailable, match="503"):
        TimestampClient(url=running.url + "/pki/tsa").stamp(DATA)
    assert any("rotate-seal" in step and "tsa (revoked)" in step for step in pki.init())

    renewed = pki.rotate_seal("tsa")  # a new TSA key and certificate
    assert renewed.key_name == "pki.tsa.2" and renewed.generation == 2
    token = TimestampClient(url=running.url + "/pki/tsa").stamp(DATA)
    assert token.tsa_certificate == renewed.certificate
    platform = pki.platform_seal()
    again = pki.rotate_seal("platform")  # the platform key name is fixed: a new certificate only
    assert again.serial != platform.serial and again.key_name == "platform"


def test_client_from_settings(pki: Pki) -> None:
    register_local_responder(None)
    with pytest.raises(ConfigError, match="TONGBAN_PKI__TSA_URL"):
        client_from_settings(pki.settings)
    register_in_process_tsa(pki.settings, pki)
    try:
        token = client_from_settings(pki.settings).stamp(DATA)
        assert token.gen_time <= datetime.now(UTC)
    finally:
        register_local_responder(None)
    remote = pki.settings.model_copy(
        update={"pki": pki.settings.pki.model_copy(update={"tsa_url": "http://127.0.0.1:9/pki/tsa"})}
    )
    client = client_from_settings(remote)
    assert client.url == "http://127.0.0.1:9/pki/tsa"
    with pytest.raises(TimestampUnavailable, match="not reachable"):
        client.stamp(DATA)
    with pytest.raises(ConfigError):
        TimestampClient()
