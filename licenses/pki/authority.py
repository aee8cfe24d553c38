"""The certificate authority of tongban: :class:`Pki`, one facade over the parts that do the work.

The database (``pki_certificates``, ``pki_crls``, ``pki_crl_heads``) is the record of every
certificate and revocation; the key store (file or PKCS#11) holds the keys and, beside each key,
its current certificate; the PKI folder (``settings.pki_folder``) holds copies for tools — CA
certificates, the chain, current seals and the newest CRLs — rewritten from the database by
:meth:`Pki.init` and after every change.

Hierarchy (ECDSA P-256)::

    root CA  (key pki.root-ca, self-signed, CRL "root")
    └── issuing CA  (key pki.issuing-ca, CRL "issuing")
        ├── TSA                 key pki.tsa        EKU timeStamping (critical)
        ├── platform seal       key platform       (core.keys.base.PLATFORM_KEY)
        └── department seals    key seal.<dept>.<generation>, one per department and rotation

A role (``root``, ``issuing``, ``tsa``, ``platform``, ``seal:<dept>``) has one *current*
certificate: its newest generation. Rotating a seal makes a new key and certificate; the old
certificate stays valid (not revoked, status ``superseded``), so signatures made with it keep
verifying. Revocation is final and goes into the issuer's next CRL in the same transaction.

=============================  ======================================================================
part                           job
=============================  ======================================================================
``records.Inventory``          certificate records: read the current one of a role, find, record
``material.Material``          signing material (seals, platform seal) and the in-process TSA
``hierarchy.Hierarchy``        making certificates: sample CA, end entities, ``init``, rotation
``crl.Crls``                   revocation and CRLs
``importing.Importer``         importing a CA pair or a certificate made elsewhere
``exporting.Exporter``         the PKI folder and the trust export (files for tools)
=============================  ======================================================================

What the license-signing code needs: :meth:`Pki.seal` (signer, certificate, chain of a
department), :meth:`Pki.platform_seal`, :meth:`Pki.trust_roots`, :meth:`Pki.crl` and
:meth:`Pki.tsa` (in-process) or :func:`licenses.pki.timestamp_client` (URL or in-process).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from core.db import Database
from core.keys import AnyKeyStore, open_keystore
from core.runtime import open_database
from core.settings import Settings
from licenses.pki import _x509
from licenses.pki._context import PkiContext
from licenses.pki._x509 import TSA_POLICY_OID
from licenses.pki.crl import CrlInfo, Crls, RevocationResult
from licenses.pki.departments import DepartmentList, load_departments
from licenses.pki.errors import PkiNotInitialised
from licenses.pki.exporting import Exporter, write_crl
from licenses.pki.hierarchy import Hierarchy
from licenses.pki.importing import Importer
from licenses.pki.material import Material, SealMaterial
from licenses.pki.records import CertificateRecord, Inventory, iso
from licenses.pki.tsa import TimestampAuthority


class Pki:
    """The PKI over a database, a key store and the PKI folder. Thread-safe.

    ``keystore`` / ``db`` default to the ones the settings name (opened here, closed by
    :meth:`close`); ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        keystore: AnyKeyStore | None = None,
        db: Database | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.folder = settings.pki_folder
        self.base_url = settings.pki.public_base_url.rstrip("/")
        self._keystore = keystore
        self._owns_keystore = keystore is None
        self._owns_db = db is None
        self.db = db or open_database(settings)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.departments: DepartmentList = load_departments(settings.pki.departments_file)
        self._lock = threading.RLock()
        self._inventory = Inventory(self.db, self.now)
        ctx = PkiContext(settings, self.db, self._inventory, self._keys, self.departments, self.now)
        self._crls = Crls(ctx, on_issued=functools.partial(write_crl, self.folder))
        self._material = Material(ctx, lock=self._lock)
        self._hierarchy = Hierarchy(ctx, self._crls)
        self._importer = Importer(ctx)
        self._exporter = Exporter(ctx, self._crls)

    def __repr__(self) -> str:
        return f"<Pki {self.folder}>"

    def __enter__(self) -> Pki:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_db:
            self.db.dispose()
        if self._owns_keystore and self._keystore is not None:
            closer = getattr(self._keystore, "close", None)  # a PKCS#11 store releases its session
            if closer is not None:
                closer()
            self._keystore = None

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @property
    def keystore(self) -> AnyKeyStore:
        if self._keystore is None:
            self._keystore = open_keystore(self.settings)
        return self._keystore

    def _keys(self) -> AnyKeyStore:  # for the parts: the key store is opened on first use
        return self.keystore

    # -- certificate records (records.Inventory) --------------------------------------------------
    def current(self, role: str) -> CertificateRecord | None:
        """The newest certificate of ``role`` (revoked or not), or None."""
        return self._inventory.current(role)

    def is_initialised(self) -> bool:
        return self._inventory.is_initialised()

    def is_sample(self) -> bool:
        return self._inventory.is_sample()

    def root_certificate(self) -> x509.Certificate:
        return self._inventory.root_certificate()

    def issuing_certificate(self) -> x509.Certificate:
        return self._inventory.issuing_certificate()

    def trust_roots(self) -> list[x509.Certificate]:
        """The trust anchors a verifier needs (the root CA)."""
        return [self._inventory.root_certificate()]

    def ca_chain(self) -> tuple[x509.Certificate, ...]:
        """(issuing CA, root CA): the chain above every end-entity certificate."""
        return self._inventory.ca_chain()

    def certificates(self, *, kind: str | None = None) -> list[CertificateRecord]:
        return self._inventory.certificates(kind=kind)

    def find(self, serial: str | int) -> CertificateRecord:
        return self._inventory.find(serial)

    def is_revoked(self, serial: str | int) -> bool:
        return self._inventory.find(serial).revoked

    # -- signing material (material.Material) ------------------------------------------------------
    def seal(self, department: str) -> SealMaterial:
        """The current seal of a department (code or USCC); raises if it is revoked or expired."""
        return self._material.seal(department)

    def platform_seal(self) -> SealMaterial:
        """The platform's seal (annotated copies, receipts): key ``platform`` of the key store."""
        return self._material.material("platform")

    def seal_history(self, department: str) -> list[CertificateRecord]:
        """Every generation of a department's seal, oldest first."""
        return self._inventory.history(f"seal:{self.departments.get(department).code}")

    def tsa(self) -> TimestampAuthority:
        """The in-process TSA (cached; its certificate's revocation is re-read every minute)."""
        return self._material.tsa()

    # -- making certificates (hierarchy.Hierarchy) -------------------------------------------------
    def init(self) -> list[str]:
        """Make what is missing: sample CA (when allowed), CRLs, TSA, platform and department seals.

        Idempotent: a second run changes nothing and says so. Returns one line per step.
        """
        with self._lock:
            steps = self._hierarchy.init()
            self._exporter.materialize()
        return steps

    def rotate_seal(self, department: str) -> SealMaterial:
        """A new key and certificate for a department; earlier certificates stay valid (superseded).

        ``tsa`` rotates the TSA the same way (a new key). ``platform`` gets a new certificate for the
        same key: its key name is fixed by ``core.keys.base.PLATFORM_KEY``.
        """
        with self._lock:
            role, dept = self._hierarchy.rotate(department)
            self._exporter.materialize()
            if dept is None:
                self._material.recheck_tsa()
        return self._material.material(role, dept)

    def recheck_tsa(self) -> None:
        """Make the in-process TSA re-read its current certificate on next use (a rotation made by
        another process is otherwise seen within a minute)."""
        self._material.recheck_tsa()

    # -- revocation and CRLs (crl.Crls) ------------------------------------------------------------
    def issue_crl(self, issuer: str = "issuing", *, only_if_due: bool = False) -> CrlInfo:
        """Issue the next CRL of ``issuer`` (``issuing`` or ``root``) and write it to the PKI folder."""
        return self._crls.issue_crl(issuer, only_if_due=only_if_due)

    def crl(self, issuer: str = "issuing", *, refresh: bool = True) -> CrlInfo:
        """The newest CRL of ``issuer``; re-issued first when due and the issuer's key is here."""
        return self._crls.crl(issuer, refresh=refresh)

    def revoke(
        self, serial: str | int, reason: str = "unspecified", *, invalidity_date: datetime | None = None
    ) -> RevocationResult:
        """Revoke a certificate (final) and issue its issuer's next CRL in the same transaction.

        Revoking a revoked certificate changes nothing and says so (``already_revoked``).
        """
        result = self._crls.revoke(serial, reason, invalidity_date=invalidity_date)
        if not result.already_revoked:
            self._material.recheck_tsa()  # the TSA re-reads its certificate's state on next use
        return result

    # -- importing (importing.Importer) -------------------------------------------------------------
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
        return self._importer.import_ca(root, issuing, issuing_key=issuing_key, root_key=root_key)

    def import_certificate(
        self, role: str, cert: x509.Certificate, *, key: ec.EllipticCurvePrivateKey | None = None
    ) -> CertificateRecord:
        """A certificate issued elsewhere by our issuing CA for ``tsa``, ``platform`` or ``seal:<dept>``.

        It becomes the role's next generation. Its key is ``key`` (imported) or, for ``tsa`` and
        ``platform``, the key already in the store.
        """
        record = self._importer.import_certificate(role, cert, key=key)
        self._exporter.materialize()
        return record

    # -- files for tools (exporting.Exporter) -------------------------------------------------------
    def materialize(self) -> None:
        """Rewrite the PKI folder from the database: CA, TSA, platform and current seal certificates, CRLs."""
        self._exporter.materialize()

    def export_trust(self, out: Path) -> dict[str, Path]:
        """Write the trust material as PEM files: root, issuing CA, TSA, a bundle, the current CRLs."""
        return self._exporter.export_trust(out)

    # -- reporting -----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Everything ``tongban pki show`` prints."""
        now = self.now()
        if not self.is_initialised():
            raise PkiNotInitialised("the PKI has no CA yet: run `tongban pki init` (or `tongban init`)")

        def brief(rec: CertificateRecord | None) -> dict[str, Any] | None:
            if rec is None:
                return None
            return {
                "serial": rec.serial,
                "subject": rec.subject,
                "not_after": iso(rec.not_after),
                "generation": rec.generation,
                "state": rec.state(now),
                "source": rec.source,
            }

        seals = []
        for dept in self.departments:
            rec = self.current(f"seal:{dept.code}")
            seals.append({"department": dept.code, "name": dept.name, "uscc": dept.uscc, "seal": brief(rec)})
        crls = [
            info.as_dict() for info in (self._crls.latest(i) for i in ("issuing", "root")) if info is not None
        ]
        revoked = [r.as_dict(now) for r in self.certificates() if r.revoked]
        return {
            "sample": self.is_sample(),
            "folder": str(self.folder),
            "key_backend": self.settings.keys.backend,
            "root": brief(self.current("root")),
            "issuing": brief(self.current("issuing")),
            "tsa": brief(self.current("tsa")),
            "platform": brief(self.current("platform")),
            "seals": seals,
            "crls": crls,
            "revoked": revoked,
            "tsa_policy": TSA_POLICY_OID,
            "urls": {
                "crl_issuing": self.base_url + _x509.CRL_PATH.format(issuer="issuing"),
                "crl_root": self.base_url + _x509.CRL_PATH.format(issuer="root"),
                "tsa": self.settings.pki.tsa_url or self.base_url + _x509.TSA_PATH,
            },
        }
