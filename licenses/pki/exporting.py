"""Files for tools: the PKI folder (``settings.pki_folder``) rewritten from the database — CA
certificates, the chain, TSA, platform and current seal certificates, the newest CRLs — and the
trust export (``tongban pki export-trust``: root, issuing CA, TSA, a bundle, the current CRLs as
PEM). Every file is written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from licenses.pki._context import PkiContext
from licenses.pki.crl import CrlInfo, Crls
from licenses.pki.errors import PkiNotInitialised


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_crl(folder: Path, info: CrlInfo) -> None:
    """The newest CRL of its issuer, as ``crl/<issuer>.crl`` (DER) in the PKI folder."""
    write_atomic(folder / "crl" / f"{info.issuer}.crl", info.der)


class Exporter:
    """Write the PKI folder and trust exports from the inventory and the CRLs."""

    def __init__(self, ctx: PkiContext, crls: Crls) -> None:
        self.ctx = ctx
        self.crls = crls
        self.folder = ctx.settings.pki_folder

    def materialize(self) -> None:
        """Rewrite the PKI folder from the database: CA, TSA, platform and current seal certificates, CRLs."""
        inv = self.ctx.inventory
        root, issuing = inv.root_certificate(), inv.issuing_certificate()
        write_atomic(self.folder / "root.crt.pem", pem(root))
        write_atomic(self.folder / "issuing.crt.pem", pem(issuing))
        write_atomic(self.folder / "chain.pem", pem(issuing) + pem(root))
        for role in ("tsa", "platform"):
            rec = inv.current(role)
            if rec is not None:
                write_atomic(self.folder / f"{role}.crt.pem", pem(rec.certificate))
        for dept in self.ctx.departments:
            rec = inv.current(f"seal:{dept.code}")
            if rec is not None:
                write_atomic(self.folder / "seals" / f"{dept.code}.crt.pem", pem(rec.certificate))
        for issuer in ("issuing", "root"):
            info = self.crls.latest(issuer)
            if info is not None:
                write_crl(self.folder, info)

    def export_trust(self, out: Path) -> dict[str, Path]:
        """Write the trust material as PEM files: root, issuing CA, TSA, a bundle, the current CRLs."""
        inv = self.ctx.inventory
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, bytes] = {
            "root.pem": pem(inv.root_certificate()),
            "issuing.pem": pem(inv.issuing_certificate()),
            "trust-bundle.pem": pem(inv.root_certificate()) + pem(inv.issuing_certificate()),
        }
        tsa = inv.current("tsa")
        if tsa is not None:
            files["tsa.pem"] = pem(tsa.certificate)
        for issuer in ("issuing", "root"):
            with suppress(PkiNotInitialised):
                files[f"{issuer}.crl.pem"] = self.crls.crl(issuer).pem
        written = {}
        for name, data in files.items():
            write_atomic(out / name, data)
            written[name] = out / name
        return written
