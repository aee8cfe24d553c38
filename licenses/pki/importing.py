"""Importing what was made elsewhere: an existing root and issuing CA (before ``init``, into a fresh
data dir), or an end-entity certificate our issuing CA signed for ``tsa``, ``platform`` or
``seal:<dept>`` (it becomes the role's next generation). Each is checked before anything is
recorded: CA flags, who signed whom, the key matching the certificate.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from core.keys.base import PLATFORM_KEY
from licenses.pki import _x509
from licenses.pki._context import PkiContext
from licenses.pki.errors import ImportRejected
from licenses.pki.records import (
    ISSUING_KEY,
    ROOT_KEY,
    TSA_KEY,
    CertificateRecord,
    normalize_serial,
    seal_key_name,
)
from licenses.pki.tsa import check_tsa_certificate


class Importer:
    """Import a CA pair or a certificate into the inventory and the key store."""

    def __init__(self, ctx: PkiContext) -> None:
        self.ctx = ctx

    def import_ca(
        self,
        root: x509.Certificate,
        issuing: x509.Certificate,
        *,
        issuing_key: ec.EllipticCurvePrivateKey | None = None,
        root_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> list[str]:
        """Use an existing root and issuing CA (before ``init``). The issuing CA key is imported into
        the key store, or must already be there under ``pki.issuing-ca`` (e.g. on the HSM)."""
        if self.ctx.inventory.current("root") is not None:
            raise ImportRejected(
                "this data dir already has a CA; import into a fresh one (TONGBAN_PKI__SAMPLE=false, "
                "then `tongban init`, `tongban pki import-ca`, `tongban pki init`)"
            )
        for cert, what in ((root, "root"), (issuing, "issuing")):
            _x509.ec_public_key(cert)
            bc = _basic_constraints(cert)
            if bc is None or not bc.ca:
                raise ImportRejected(f"the {what} certificate is not a CA certificate")
        try:
            root.verify_directly_issued_by(root)
            issuing.verify_directly_issued_by(root)
        except (ValueError, TypeError, Exception) as exc:
            raise ImportRejected(
                f"the issuing CA is not signed by the root (or the root is not self-signed): {exc}"
            ) from exc
        keystore = self.ctx.keys()
        steps = []
        for key, name, cert in ((issuing_key, ISSUING_KEY, issuing), (root_key, ROOT_KEY, root)):
            if key is not None:
                if key.public_key() != cert.public_key():
                    raise ImportRejected(f"the key given for {name} does not match its certificate")
                if keystore.has_key(name):
                    raise ImportRejected(f"the key store already holds a key {name!r}")
                keystore.import_signing_key(name, key)
                steps.append(f"key {name} imported")
            elif keystore.has_key(name):
                if keystore.signer(name).public_key() != cert.public_key():
                    raise ImportRejected(f"the key store's {name!r} does not match the {name} certificate")
            elif name == ISSUING_KEY:
                raise ImportRejected(
                    "the issuing CA key is needed: pass it, or put it in the key store as pki.issuing-ca"
                )
        self.ctx.inventory.record_ca_pair(
            root,
            issuing,
            root_key_name=ROOT_KEY if keystore.has_key(ROOT_KEY) else None,
            source="imported",
        )
        keystore.store_certificate(ISSUING_KEY, issuing)
        steps.append(
            f"root {normalize_serial(root.serial_number)} and issuing CA "
            f"{normalize_serial(issuing.serial_number)} imported"
        )
        return steps

    def import_certificate(
        self, role: str, cert: x509.Certificate, *, key: ec.EllipticCurvePrivateKey | None = None
    ) -> CertificateRecord:
        """A certificate issued elsewhere by our issuing CA for ``tsa``, ``platform`` or ``seal:<dept>``.

        It becomes the role's next generation. Its key is ``key`` (imported) or, for ``tsa`` and
        ``platform``, the key already in the store.
        """
        issuing = self.ctx.inventory.require("issuing")
        department = None
        if role.startswith("seal:"):
            department = self.ctx.departments.get(role.removeprefix("seal:"))
            role, kind = f"seal:{department.code}", "seal"
        elif role in ("tsa", "platform"):
            kind = role
        else:
            raise ImportRejected(f"unknown role {role!r}: use tsa, platform or seal:<department>")
        try:
            cert.verify_directly_issued_by(issuing.certificate)
        except Exception as exc:
            raise ImportRejected(f"the certificate is not issued by this PKI's issuing CA: {exc}") from exc
        if kind == "tsa":
            check_tsa_certificate(cert)
        generation = self.ctx.inventory.next_generation(role)
        key_name = {"tsa": TSA_KEY, "platform": PLATFORM_KEY}.get(kind) or seal_key_name(
            department.code if department else "", generation
        )
        keystore = self.ctx.keys()
        if key is not None:
            if key.public_key() != cert.public_key():
                raise ImportRejected("the key does not match the certificate")
            if keystore.has_key(key_name):
                raise ImportRejected(
                    f"the key store already holds {key_name!r}; import the certificate alone"
                )
            keystore.import_signing_key(key_name, key)
        elif not keystore.has_key(key_name) or keystore.signer(key_name).public_key() != cert.public_key():
            raise ImportRejected(f"no key for this certificate in the key store ({key_name}); pass --key")
        with self.ctx.inventory.db.session() as s:
            row = self.ctx.inventory.insert(
                s,
                cert=cert,
                kind=kind,
                role=role,
                generation=generation,
                key_name=key_name,
                issuer_serial=issuing.serial,
                source="imported",
                department=department.code if department else None,
            )
            record = CertificateRecord.from_row(row)
        keystore.store_certificate(key_name, cert)
        return record


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None
