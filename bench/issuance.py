"""Bulk license issuance: our pipeline against the plain path a user would write, in one run.

* **ours** — ``LicenseRegistry.issue_many``: identifier from the counter, face render, PAdES
  certification at the default profile (B-LT) with one reused signer and the in-process TSA of
  the embedded default, store (``licenses`` zone), register (batch transactions, ledger, events).
* **plain** — per license: reportlab render (the same face), ``SimpleSigner.load`` from the
  seal's encrypted PEM files, a new ``ValidationContext`` and ``PdfSigner``, ``sign_pdf`` at the
  same profile (B-LT: certification, timestamp, DSS with the CRLs) with pyhanko's
  ``HTTPTimeStamper`` against the same TSA served over HTTP on loopback, written to a folder.

Both sign with the same seal, trust and TSA key; the result reports licenses/s of both, the ratio,
bytes per license, and (``preload``) the rate again after N licenses were registered.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contracts.validators import make_uscc
from core.db import Database
from core.runtime import open_database
from core.settings import Settings
from licenses import Holder, IssueRequest, open_registry, render_face
from licenses.pki import Pki

ISSUER = "11510129008589710X"  # 大邑县市场监督管理局


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its live children (the signing workers).

    Less sensitive than wall time to other load on a shared machine."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return float(total)


def _request(i: int, run: str) -> IssueRequest:
    return IssueRequest(
        type_code="business_license",
        issuer_code=ISSUER,
        holders=[Holder(f"大邑县示例商户{i}号", make_uscc("92", "510129", f"{i:08X}"), "001")],
        fields={
            "KZ_LX": "个体工商户",
            "KZ_JYZ": "张三",
            "KZ_ZCXS": "个人经营",
            "KZ_JYCS": f"四川省成都市大邑县晋原街道示例路{i % 999 + 1}号",
            "KZ_JYFW": "餐饮服务；食品销售（仅销售预包装食品）。",
        },
        idempotency_key=f"bench-{run}-{i}",
    )


class _TsaHandler(http.server.BaseHTTPRequestHandler):
    responder: Any = None
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        reply = type(self).responder(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def tsa_server(responder: Any) -> Iterator[str]:
    handler = type("Handler", (_TsaHandler,), {"responder": staticmethod(responder)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()


def _export_seal(pki: Pki, folder: Path, passphrase: bytes) -> tuple[Path, Path, list[Path]]:
    """The seal key and certificates as PEM files, the way a user of plain pyhanko keeps them."""
    from cryptography.hazmat.primitives import serialization

    seal = pki.seal(ISSUER)
    key = seal.signer.private_key_for_pdf_signing()  # type: ignore[attr-defined]
    key_path = folder / "seal.key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )
    cert_path = folder / "seal.crt.pem"
    cert_path.write_bytes(seal.certificate.public_bytes(serialization.Encoding.PEM))
    chain = []
    for i, c in enumerate(seal.chain):
        p = folder / f"ca{i}.pem"
        p.write_bytes(c.public_bytes(serialization.Encoding.PEM))
        chain.append(p)
    return key_path, cert_path, chain


def plain_path(registry: Any, faces: list[Any], pki: Pki, tsa_url: str, out: Path) -> float:
    """reportlab + pyhanko sign_pdf per document, signer loaded per document; returns docs/s."""
    from asn1crypto import crl as asn1_crl
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko_certvalidator import ValidationContext

    out.mkdir(parents=True, exist_ok=True)
    passphrase = b"plain-path-passphrase"
    key_path, cert_path, chain = _export_seal(pki, out, passphrase)
    roots = [p for p in chain if "ca1" in p.name]
    crl_ders = [pki.crl("issuing").der, pki.crl("root").der]
    start = time.perf_counter()
    for i, face in enumerate(faces):
        pdf = render_face(face)
        signer = signers.SimpleSigner.load(
            str(key_path), str(cert_path), ca_chain_files=[str(p) for p in chain], key_passphrase=passphrase
        )
        from asn1crypto import x509 as asn1_x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509 import load_pem_x509_certificate

        vc = ValidationContext(
            trust_roots=[
                asn1_x509.Certificate.load(
                    load_pem_x509_certificate(p.read_bytes()).public_bytes(serialization.Encoding.DER)
                )
                for p in roots
            ],
            crls=[asn1_crl.CertificateList.load(d) for d in crl_ders],
            allow_fetching=False,
            revocation_mode="hard-fail",
        )
        meta = signers.PdfSignatureMetadata(
            field_name="Signature",
            certify=True,
            docmdp_permissions=fields.MDPPerm.NO_CHANGES,
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=True,
            validation_context=vc,
            signer_key_usage={"digital_signature"},
        )
        w = IncrementalPdfFileWriter(io.BytesIO(pdf))
        result = signers.PdfSigner(meta, signer, timestamper=HTTPTimeStamper(tsa_url)).sign_pdf(w)
        (out / f"license-{i:06d}.pdf").write_bytes(result.getvalue())
    return len(faces) / (time.perf_counter() - start)


def preload_registered(db: Database, n: int, template_id: str) -> None:
    """Insert ``n`` registered licenses (rows only, copies of one) so the registry has history:
    stored as the registry stores them — holder name, code and metadata sealed under each license
    id, the holder's blind index, a keyed uniqueness hash, each holder row sealed with its own blind
    index — so the registry's look-ups and inserts meet tables like a real one's."""
    import hashlib
    import json

    from sqlalchemy import insert, select

    from core.sealing import UNIQUENESS_KIND, crypt_of, holder_kind, row_key
    from licenses.models import LicenseHolderRow, LicenseRecord

    with db.session() as s:
        crypt = crypt_of(s)
        t = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == template_id))
        assert t is not None
        base = {c.name: getattr(t, c.name) for c in LicenseRecord.__table__.columns if c.name != "id"}
    code_type = str(base["holder_code_type"])
    chunk = 5000
    for start in range(0, n, chunk):
        rows = []
        for i in range(start, min(n, start + chunk)):
            tag = f"{i:09d}"
            lid = f"preload.{tag}"
            plain = {
                "holder_name": str(base["holder_name"]),
                "holder_code": f"PRE{tag}",
                "metadata_json": json.dumps({"preloaded": True}),
            }
            sealed = {c: crypt.seal(v, table="licenses", column=c, row_key=lid) for c, v in plain.items()}
            key_values = hashlib.sha256(f"preload {tag}".encode()).hexdigest()
            rows.append(
                base
                | sealed
                | {
                    "license_id": lid,
                    "idempotency_key": f"preload-{tag}",
                    "uniqueness_hash": crypt.blind(key_values, kind=UNIQUENESS_KIND),
                    "holder_bidx": crypt.blind(plain["holder_code"], kind=holder_kind(code_type)),
                    "object_key": (tag * 8)[:64],
                }
            )
        with db.session() as s:
            s.execute(insert(LicenseRecord), rows)
            ids = s.scalars(
                select(LicenseRecord.id).where(LicenseRecord.license_id.in_([r["license_id"] for r in rows]))
            ).all()
            holders = []
            for pk in ids:
                rk, code = row_key(pk, 0), f"PRE{pk}"
                holders.append(
                    {
                        "license_pk": pk,
                        "position": 0,
                        "name": crypt.seal("预置", table="license_holders", column="name", row_key=rk),
                        "code": crypt.seal(code, table="license_holders", column="code", row_key=rk),
                        "code_bidx": crypt.blind(code, kind=holder_kind("001")),
                        "code_type": "001",
                    }
                )
            s.execute(insert(LicenseHolderRow), holders)


def run(
    *,
    count: int = 200,
    baseline_count: int = 40,
    database_url: str | None = None,
    preload: int = 0,
    data_dir: Path | None = None,
    batch_size: int = 64,
    workers: int | None = None,
) -> dict[str, Any]:
    """Run both paths and return the benchmark record (name, ours_per_s, baseline_per_s, ratio, params)."""
    from migrations import runner

    with tempfile.TemporaryDirectory(prefix="tongban-bench-") as tmp:
        root = data_dir or Path(tmp) / "var"
        settings = Settings(
            data_dir=root, database_url=database_url, keys={"passphrase": "bench-" + uuid.uuid4().hex}
        )
        settings.data_path.mkdir(parents=True, exist_ok=True)
        runner.upgrade(settings.db_url)
        db = open_database(settings)  # with the key store's field encryption, as the product opens it
        pki = Pki(settings, db=db)
        pki.init()
        n_workers = workers if workers is not None else (os.cpu_count() or 1)
        registry = open_registry(settings, db=db, batch_size=batch_size, workers=n_workers)
        run_id = uuid.uuid4().hex[:8]
        # warm up: fonts, signers, worker processes
        registry.issue_many([_request(i, run_id + "w") for i in range(2 * n_workers)])

        # ours
        cpu0, start = _cpu_seconds(), time.perf_counter()
        outcomes = registry.issue_many([_request(100 + i, run_id) for i in range(count)])
        ours = count / (time.perf_counter() - start)
        ours_cpu_ms = (_cpu_seconds() - cpu0) * 1000 / count
        failed = [o.error for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} licenses failed: {failed[:3]}")
        sizes = [registry.store.stat("licenses", o.license.object_key).size for o in outcomes if o.license]

        # plain, same faces, same seal, TSA over HTTP
        faces = [registry.face(o.license.license_id) for o in outcomes[:baseline_count] if o.license]
        with tsa_server(pki.tsa().respond) as url:
            cpu0 = _cpu_seconds()
            baseline = plain_path(registry, faces, pki, url, Path(tmp) / "plain")
            plain_cpu_ms = (_cpu_seconds() - cpu0) * 1000 / len(faces)  # the TSA thread included

        record: dict[str, Any] = {
            "name": "issuance",
            "ours_per_s": round(ours, 2),
            "baseline_per_s": round(baseline, 2),
            "ratio": round(ours / baseline, 2),
            "params": {
                "count": count,
                "baseline_count": baseline_count,
                "profile": registry.profile,
                "batch_size": batch_size,
                "workers": n_workers,
                "database": "postgresql"
                if database_url and database_url.startswith("postgresql")
                else "sqlite",
                "bytes_per_license": int(sum(sizes) / len(sizes)),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg()[0],
                "ours_cpu_ms_per_license": round(ours_cpu_ms, 1),
                "plain_cpu_ms_per_license": round(plain_cpu_ms, 1),
            },
        }
        if preload:
            preload_registered(db, preload, outcomes[0].license.license_id)  # type: ignore[union-attr]
            cpu0, start = _cpu_seconds(), time.perf_counter()
            again = registry.issue_many([_request(10_000_000 + i, run_id + "p") for i in range(count)])
            after = count / (time.perf_counter() - start)
            after_cpu_ms = (_cpu_seconds() - cpu0) * 1000 / count
            assert all(o.ok for o in again)
            record["params"]["preloaded"] = preload
            record["params"]["ours_per_s_after_preload"] = round(after, 2)
            record["params"]["drop_after_preload"] = round(1 - after / ours, 3)
            record["params"]["ours_cpu_ms_per_license_after_preload"] = round(after_cpu_ms, 1)
            record["params"]["cpu_drop_after_preload"] = round(1 - ours_cpu_ms / after_cpu_ms, 3)
            record["params"]["load_average_after"] = os.getloadavg()[0]
        registry.close()
        db.dispose()
        pki.close()
        return record
