"""The certificate authority of tongban: hierarchy, seals, rotation, revocation, CRLs, trust export.

:class:`Pki` is the one entry point. The database (``pki_certificates``, ``pki_crls``,
``pki_crl_heads``) is the record of every certificate and revocation; the key store (file or
PKCS#11) holds the keys and, beside each key, its current certificate; the PKI folder
(``settings.pki_folder``) holds copies for tools — CA certificates, the chain, current seals and
the newest CRLs — rewritten from the database by :meth:`Pki.init` and after every change.

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

What the license-signing code needs: :meth:`Pki.seal` (signer, certificate, chain of a
department), :meth:`Pki.platform_seal`, :meth:`Pki.trust_roots`, :meth:`Pki.crl` and
:meth:`Pki.tsa` (in-process) or :func:`licenses.pki.timestamp_client` (URL or in-process).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import events, ledger
from core.db import Database, insert_ignore
from core.keys import AnyKeyStore, open_keystore
from core.keys.base import PLATFORM_KEY, Signer
from core.logging import log_event
from core.settings import Settings
from licenses.pki import _x509
from licenses.pki._x509 import SAMPLE_MARK, TSA_POLICY_OID
from licenses.pki.departments import Department, DepartmentList, load_departments
from licenses.pki.errors import (
    CertificateRevoked,
    ImportRejected,
    PkiError,
    PkiNotInitialised,
    UnknownCertificate,
)
from licenses.pki.models import PkiCertificate, PkiCrl, PkiCrlHead
from licenses.pki.tsa import TimestampAuthority, check_tsa_certificate

log = logging.getLogger("tongban.pki")

ROOT_KEY = "pki.root-ca"
ISSUING_KEY = "pki.issuing-ca"
TSA_KEY = "pki.tsa"
LEDGER_STREAM = "pki"
PROVINCE = "四川省"
CN_MAX_BYTES = 64  # cryptography (and some tools) count the commonName bound in UTF-8 bytes

ROOT_DAYS = 7305  # 20 years
ISSUING_DAYS = 3652  # 10 years
TSA_DAYS = 1826  # 5 years
ROOT_CRL_HOURS = 24 * 30
TSA_RECHECK_S = 60.0  # a cached TSA re-reads its certificate's revocation this often


def seal_key_name(department: str, generation: int) -> str:
    return f"seal.{department}.{generation}"


def normalize_serial(text: str | int) -> str:
    """Uppercase hex without separators or leading zeros (``04:5B:…``, ``0x45b…`` and ``45B…`` agree)."""
    if isinstance(text, int):
        return f"{text:X}"
    cleaned = text.strip().replace(":", "").replace(" ", "").lower().removeprefix("0x")
    try:
        return f"{int(cleaned, 16):X}"
    except ValueError as exc:
        raise UnknownCertificate(
            f"{text!r} is not a certificate serial number (hex, as openssl prints it)"
        ) from exc


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _parse_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass(frozen=True)
class CertificateRecord:
    """One certificate of the inventory, with its revocation state."""

    serial: str
    kind: str
    role: str
    department: str | None
    generation: int
    key_name: str | None
    issuer_serial: str | None
    subject: str
    not_before: datetime
    not_after: datetime
    sha256: str
    source: str
    issued_at: datetime
    status: str  # active | superseded
    revoked_at: datetime | None
    revocation_reason: str | None
    invalidity_date: datetime | None
    certificate: x509.Certificate

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def state(self, now: datetime) -> str:
        """revoked | expired | not_yet_valid | current | superseded."""
        if self.revoked:
            return "revoked"
        if now > self.not_after:
            return "expired"
        if now < self.not_before:
            return "not_yet_valid"
        return "current" if self.status == "active" else "superseded"

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "serial": self.serial,
            "kind": self.kind,
            "role": self.role,
            "department": self.department,
            "generation": self.generation,
            "key_name": self.key_name,
            "issuer_serial": self.issuer_serial,
            "subject": self.subject,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
            "sha256": self.sha256,
            "source": self.source,
            "status": self.status,
            "revoked_at": _iso(self.revoked_at) if self.revoked_at else None,
            "revocation_reason": self.revocation_reason,
            "invalidity_date": _iso(self.invalidity_date) if self.invalidity_date else None,
        }
        if now is not None:
            doc["state"] = self.state(now)
        return doc

    @classmethod
    def from_row(cls, row: PkiCertificate) -> CertificateRecord:
        return cls(
            serial=row.serial,
            kind=row.kind,
            role=row.role,
            department=row.department,
            generation=row.generation,
            key_name=row.key_name,
            issuer_serial=row.issuer_serial,
            subject=row.subject,
            not_before=datetime.fromisoformat(row.not_before),
            not_after=datetime.fromisoformat(row.not_after),
            sha256=row.sha256,
            source=row.source,
            issued_at=datetime.fromisoformat(row.issued_at),
            status=row.status,
            revoked_at=_parse_iso(row.revoked_at),
            revocation_reason=row.revocation_reason,
            invalidity_date=_parse_iso(row.invalidity_date),
            certificate=x509.load_der_x509_certificate(row.cert_der),
        )


@dataclass(frozen=True)
class SealMaterial:
    """A signing key with its certificate and chain: what a PDF signer needs.

    ``chain`` is (issuing CA, root CA). ``department`` is None for the platform seal and the TSA.
    """

    role: str
    signer: Signer
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    department: Department | None
    generation: int

    @property
    def serial(self) -> str:
        return normalize_serial(self.certificate.serial_number)

    @property
    def key_name(self) -> str:
        return self.signer.name


@dataclass(frozen=True)
class CrlInfo:
    """An issued CRL (DER) and its facts."""

    issuer: str  # root | issuing
    number: int
    this_update: datetime
    next_update: datetime
    revoked_count: int
    sha256: str
    der: bytes

    @property
    def crl(self) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl(self.der)

    @property
    def pem(self) -> bytes:
        return self.crl.public_bytes(serialization.Encoding.PEM)

    def as_dict(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "number": self.number,
            "this_update": _iso(self.this_update),
            "next_update": _iso(self.next_update),
            "revoked": self.revoked_count,
            "sha256": self.sha256,
        }

    @classmethod
    def from_row(cls, row: PkiCrl) -> CrlInfo:
        return cls(
            issuer=row.issuer,
            number=row.crl_number,
            this_update=datetime.fromisoformat(row.this_update),
            next_update=datetime.fromisoformat(row.next_update),
            revoked_count=row.revoked_count,
            sha256=row.sha256,
            der=row.crl_der,
        )


@dataclass(frozen=True)
class RevocationResult:
    record: CertificateRecord
    crl: CrlInfo
    already_revoked: bool


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
        self.db = db or Database(settings.db_url)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.departments: DepartmentList = load_departments(settings.pki.departments_file)
        self._lock = threading.RLock()
        self._tsa: TimestampAuthority | None = None
        self._tsa_checked = 0.0

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

    # -- reading the inventory ------------------------------------------------------------------
    def _current_row(self, s: Session, role: str) -> PkiCertificate | None:
        return s.scalars(
            select(PkiCertificate)
            .where(PkiCertificate.role == role)
            .order_by(PkiCertificate.generation.desc())
            .limit(1)
        ).first()

    def current(self, role: str) -> CertificateRecord | None:
        """The newest certificate of ``role`` (revoked or not), or None."""
        with self.db.sessions() as s:
            row = self._current_row(s, role)
            return None if row is None else CertificateRecord.from_row(row)

    def _require(self, role: str) -> CertificateRecord:
        rec = self.current(role)
        if rec is None:
            if role in ("root", "issuing"):
                raise PkiNotInitialised(
                    "the PKI has no CA yet: run `tongban pki init` (or `tongban init`), or import one "
                    "with `tongban pki import-ca`"
                )
            raise PkiNotInitialised(f"no certificate for {role!r}: run `tongban pki init`")
        return rec

    def is_initialised(self) -> bool:
        return self.current("root") is not None and self.current("issuing") is not None

    def is_sample(self) -> bool:
        root = self.current("root")
        return root is not None and root.source == "sample"

    def root_certificate(self) -> x509.Certificate:
        return self._require("root").certificate

    def issuing_certificate(self) -> x509.Certificate:
        return self._require("issuing").certificate

    def trust_roots(self) -> list[x509.Certificate]:
        """The trust anchors a verifier needs (the root CA)."""
        return [self.root_certificate()]

    def ca_chain(self) -> tuple[x509.Certificate, ...]:
        """(issuing CA, root CA): the chain above every end-entity certificate."""
        return (self.issuing_certificate(), self.root_certificate())

    def certificates(self, *, kind: str | None = None) -> list[CertificateRecord]:
        with self.db.sessions() as s:
            stmt = select(PkiCertificate).order_by(PkiCertificate.issued_at, PkiCertificate.serial)
            if kind is not None:
                stmt = stmt.where(PkiCertificate.kind == kind)
            return [CertificateRecord.from_row(r) for r in s.scalars(stmt)]

    def find(self, serial: str | int) -> CertificateRecord:
        key = normalize_serial(serial)
        with self.db.sessions() as s:
            row = s.get(PkiCertificate, key)
            if row is None:
                raise UnknownCertificate(
                    f"no certificate with serial {key} was issued by this PKI (`tongban pki show`)"
                )
            return CertificateRecord.from_row(row)

    def is_revoked(self, serial: str | int) -> bool:
        return self.find(serial).revoked

    # -- seals ----------------------------------------------------------------------------------
    def _material(self, role: str, department: Department | None = None) -> SealMaterial:
        rec = self._require(role)
        now = self.now()
        state = rec.state(now)
        if state == "revoked":
            hint = f"`tongban pki rotate-seal {department.code}`" if department else "`tongban pki init`"
            raise CertificateRevoked(
                f"the current certificate of {role} (serial {rec.serial}) was revoked on "
                f"{_iso(rec.revoked_at or now)} ({rec.revocation_reason}); issue a new one with {hint}"
            )
        if state == "expired":
            raise CertificateRevoked(
                f"the current certificate of {role} (serial {rec.serial}) expired on {_iso(rec.not_after)}",
                code="PKI_CERTIFICATE_EXPIRED",
            )
        if rec.key_name is None:
            raise PkiError(f"no key is held here for {role}", code="PKI_NO_KEY")
        return SealMaterial(
            role=role,
            signer=self.keystore.signer(rec.key_name),
            certificate=rec.certificate,
            chain=self.ca_chain(),
            department=department,
            generation=rec.generation,
        )

    def seal(self, department: str) -> SealMaterial:
        """The current seal of a department (code or USCC); raises if it is revoked or expired."""
        dept = self.departments.get(department)
        return self._material(f"seal:{dept.code}", dept)

    def platform_seal(self) -> SealMaterial:
        """The platform's seal (annotated copies, receipts): key ``platform`` of the key store."""
        return self._material("platform")

    def seal_history(self, department: str) -> list[CertificateRecord]:
        """Every generation of a department's seal, oldest first."""
        dept = self.departments.get(department)
        with self.db.sessions() as s:
            rows = s.scalars(
                select(PkiCertificate)
                .where(PkiCertificate.role == f"seal:{dept.code}")
                .order_by(PkiCertificate.generation)
            )
            return [CertificateRecord.from_row(r) for r in rows]

    # -- timestamp authority --------------------------------------------------------------------
    def tsa(self) -> TimestampAuthority:
        """The in-process TSA (cached; its certificate's revocation is re-read every minute)."""
        with self._lock:
            if self._tsa is None or time.monotonic() - self._tsa_checked > TSA_RECHECK_S:
                material = self._material("tsa")
                if self._tsa is None or self._tsa.certificate != material.certificate:
                    self._tsa = TimestampAuthority(
                        material.signer, material.certificate, material.chain, policy=TSA_POLICY_OID
                    )
                self._tsa_checked = time.monotonic()
            return self._tsa

    # -- making certificates --------------------------------------------------------------------
    def _mark(self, text: str, sample: bool) -> str:
        return f"{text}（{SAMPLE_MARK}）" if sample else text

    def _common_name(self, candidates: list[str], sample: bool) -> str:
        """The first candidate that fits a commonName (64 bytes of UTF-8) with the sample mark."""
        marks = [f"（{SAMPLE_MARK}）", "（样例）"] if sample else [""]
        for text in candidates:
            for mark in marks:
                if len((text + mark).encode()) <= CN_MAX_BYTES:
                    return text + mark
        raise PkiError(f"no common name fits 64 bytes among {candidates}", code="PKI_NAME_TOO_LONG")

    def _subject(self, role: str, sample: bool, department: Department | None = None) -> x509.Name:
        unit = self._mark("电子证照", sample)
        if role == "root":
            return _x509.name(
                common_name=self._mark(f"{PROVINCE}电子证照根CA", sample),
                organization=self._mark(f"{PROVINCE}电子证照认证中心", sample),
                unit=unit,
                province=PROVINCE,
            )
        if role == "issuing":
            return _x509.name(
                common_name=self._mark(f"{PROVINCE}电子证照签发CA", sample),
                organization=self._mark(f"{PROVINCE}电子证照认证中心", sample),
                unit=unit,
                province=PROVINCE,
            )
        if role == "tsa":
            return _x509.name(
                common_name=self._mark("通办时间戳服务", sample),
                organization=self.settings.platform_name,
                unit=unit,
                province=PROVINCE,
            )
        if role == "platform":
            return _x509.name(
                common_name=self._mark("通办共享平台电子印章", sample),
                organization=self.settings.platform_name,
                unit=unit,
                province=PROVINCE,
            )
        assert department is not None
        return _x509.name(
            common_name=self._common_name([department.seal_name, department.name], sample),
            organization=department.name,
            unit=self._mark("电子印章", sample),
            province=department.province,
            locality=department.locality,
            organization_identifier=f"NTRCN-{department.uscc}",
        )

    def _insert(
        self,
        s: Session,
        *,
        cert: x509.Certificate,
        kind: str,
        role: str,
        generation: int,
        key_name: str | None,
        issuer_serial: str | None,
        source: str,
        department: str | None = None,
    ) -> PkiCertificate:
        row = PkiCertificate(
            serial=normalize_serial(cert.serial_number),
            kind=kind,
            role=role,
            department=department,
            generation=generation,
            key_name=key_name,
            issuer_serial=issuer_serial,
            subject=cert.subject.rfc4514_string(),
            not_before=_iso(cert.not_valid_before_utc),
            not_after=_iso(cert.not_valid_after_utc),
            sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
            cert_der=cert.public_bytes(serialization.Encoding.DER),
            source=source,
            issued_at=_iso(self.now()),
            status="active",
        )
        s.execute(
            update(PkiCertificate)
            .where(PkiCertificate.role == role, PkiCertificate.status == "active")
            .values(status="superseded")
        )
        s.add(row)
        s.flush()
        ledger.append(
            s,
            LEDGER_STREAM,
            "certificate.issued" if source != "imported" else "certificate.imported",
            {"serial": row.serial, "role": role, "generation": generation, "sha256": row.sha256},
        )
        return row

    def _next_generation(self, role: str) -> int:
        with self.db.sessions() as s:
            top = s.scalar(select(func.max(PkiCertificate.generation)).where(PkiCertificate.role == role))
        return int(top or 0) + 1

    def _issue_end_entity(self, role: str, department: Department | None = None) -> CertificateRecord:
        """A new generation for ``role``: a new key (seals) or the role's fixed key, a new certificate."""
        issuing = self._require("issuing")
        sample = self.is_sample()
        generation = self._next_generation(role)
        if role == "tsa":  # a new key per generation: pki.tsa, pki.tsa.2, …
            key_name = TSA_KEY if generation == 1 else f"{TSA_KEY}.{generation}"
            kind, days = "tsa", TSA_DAYS
        elif role == "platform":
            key_name, kind, days = PLATFORM_KEY, "platform", self.settings.pki.seal_validity_days
        else:
            assert department is not None
            key_name, kind = seal_key_name(department.code, generation), "seal"
            days = self.settings.pki.seal_validity_days
        signer = self.keystore.create_signing_key(key_name, exist_ok=True)
        ca_signer = self.keystore.signer(ISSUING_KEY)
        cert = _x509.end_entity_certificate(
            ca_signer,
            issuing.certificate,
            signer.public_key(),
            self._subject(role, sample, department),
            now=self.now(),
            days=days,
            base_url=self.base_url,
            sample=sample,
            timestamping=role == "tsa",
        )
        try:
            with self.db.session() as s:
                row = self._insert(
                    s,
                    cert=cert,
                    kind=kind,
                    role=role,
                    generation=generation,
                    key_name=key_name,
                    issuer_serial=issuing.serial,
                    source="sample" if sample else "generated",
                    department=department.code if department else None,
                )
                if kind == "seal":
                    events.record_event(
                        s,
                        "pki.seal_issued",
                        "certificate",
                        row.serial,
                        {
                            "department": role.removeprefix("seal:"),
                            "generation": generation,
                            "serial": row.serial,
                        },
                    )
                record = CertificateRecord.from_row(row)
        except IntegrityError as exc:
            raise PkiError(
                f"another process issued generation {generation} of {role} at the same time; "
                "run the command again",
                code="PKI_CONCURRENT_ISSUE",
            ) from exc
        self.keystore.store_certificate(key_name, cert)
        log_event(log, "pki.certificate_issued", role=role, serial=record.serial, generation=generation)
        return record

    def init(self) -> list[str]:
        """Make what is missing: sample CA (when allowed), CRLs, TSA, platform and department seals.

        Idempotent: a second run changes nothing and says so. Returns one line per step.
        """
        steps: list[str] = []
        with self._lock:
            if self.current("root") is None:
                if not self.settings.pki.sample:
                    raise PkiNotInitialised(
                        "no CA and TONGBAN_PKI__SAMPLE=false: import the CA with `tongban pki import-ca` "
                        "before `tongban pki init`"
                    )
                self._make_sample_ca()
                steps.append(f"PKI: sample root and issuing CA created ({SAMPLE_MARK})")
            else:
                steps.append(f"PKI: root CA present ({'sample' if self.is_sample() else 'imported'})")
            if self.current("issuing") is None:
                raise PkiNotInitialised(
                    "the root CA has no issuing CA: import one with `tongban pki import-ca`"
                )
            for issuer in ("issuing", "root"):
                if self._latest_crl(issuer) is None and self._can_sign(issuer):
                    crl = self.issue_crl(issuer)
                    steps.append(f"PKI: CRL {issuer} #{crl.number} issued")
            made = []
            for role in ("tsa", "platform"):
                if self.current(role) is None:
                    self._issue_end_entity(role)
                    made.append(role)
            for dept in self.departments:
                if self.current(f"seal:{dept.code}") is None:
                    self._issue_end_entity(f"seal:{dept.code}", dept)
                    made.append(dept.code)
            steps.append(
                f"PKI: certificates issued for {', '.join(made)}"
                if made
                else "PKI: TSA, platform and seals present"
            )
            now = self.now()
            unusable = [
                f"{r.role} ({r.state(now)})"
                for r in (self.current(role) for role in self._end_entity_roles())
                if r is not None and r.state(now) in ("revoked", "expired")
            ]
            if unusable:
                steps.append(f"PKI: needs `tongban pki rotate-seal`: {', '.join(unusable)}")
            self.materialize()
        return steps

    def _make_sample_ca(self) -> None:
        now = self.now()
        root_signer = self.keystore.create_signing_key(ROOT_KEY, exist_ok=True)
        root = _x509.root_certificate(
            root_signer, self._subject("root", True), now=now, days=ROOT_DAYS, sample=True
        )
        issuing_signer = self.keystore.create_signing_key(ISSUING_KEY, exist_ok=True)
        issuing = _x509.issuing_certificate(
            root_signer,
            root,
            issuing_signer.public_key(),
            self._subject("issuing", True),
            now=now,
            days=ISSUING_DAYS,
            base_url=self.base_url,
            sample=True,
        )
        self._record_ca_pair(root, issuing, root_key_name=ROOT_KEY, source="sample")
        self.keystore.store_certificate(ROOT_KEY, root)
        self.keystore.store_certificate(ISSUING_KEY, issuing)

    def _record_ca_pair(
        self, root: x509.Certificate, issuing: x509.Certificate, *, root_key_name: str | None, source: str
    ) -> None:
        """Record a root CA and the issuing CA it signed, generation 1, in one transaction."""
        with self.db.session() as s:
            root_row = self._insert(
                s,
                cert=root,
                kind="root",
                role="root",
                generation=1,
                key_name=root_key_name,
                issuer_serial=None,
                source=source,
            )
            self._insert(
                s,
                cert=issuing,
                kind="issuing",
                role="issuing",
                generation=1,
                key_name=ISSUING_KEY,
                issuer_serial=root_row.serial,
                source=source,
            )

    def _end_entity_roles(self) -> list[str]:
        return ["tsa", "platform", *(f"seal:{d.code}" for d in self.departments)]

    def rotate_seal(self, department: str) -> SealMaterial:
        """A new key and certificate for a department; earlier certificates stay valid (superseded).

        ``tsa`` rotates the TSA the same way (a new key). ``platform`` gets a new certificate for the
        same key: its key name is fixed by ``core.keys.base.PLATFORM_KEY``.
        """
        if department in ("tsa", "platform"):
            with self._lock:
                self._issue_end_entity(department)
                self.materialize()
                self._tsa_checked = 0.0
            return self._material(department)
        dept = self.departments.get(department)
        role = f"seal:{dept.code}"
        with self._lock:
            previous = self.current(role)
            record = self._issue_end_entity(role, dept)
            with self.db.session() as s:
                events.record_event(
                    s,
                    "pki.seal_rotated",
                    "department",
                    dept.code,
                    {
                        "department": dept.code,
                        "old_serial": previous.serial if previous else None,
                        "new_serial": record.serial,
                    },
                )
            self.materialize()
        return self._material(role, dept)

    # -- revocation and CRLs ----------------------------------------------------------------------
    def _issuer_name(self, record: CertificateRecord) -> str:
        if record.kind == "root":
            raise PkiError(
                "a root CA cannot be revoked by a CRL: remove it from every trust store instead",
                code="PKI_ROOT_NOT_REVOCABLE",
            )
        root = self._require("root")
        return "root" if record.issuer_serial == root.serial else "issuing"

    def _issuer_key(self, issuer: str) -> str:
        return ROOT_KEY if issuer == "root" else ISSUING_KEY

    def _can_sign(self, issuer: str) -> bool:
        return self.keystore.has_key(self._issuer_key(issuer))

    def _latest_crl_row(self, s: Session, issuer: str) -> PkiCrl | None:
        return s.scalars(
            select(PkiCrl).where(PkiCrl.issuer == issuer).order_by(PkiCrl.crl_number.desc()).limit(1)
        ).first()

    def _latest_crl(self, issuer: str) -> CrlInfo | None:
        with self.db.sessions() as s:
            row = self._latest_crl_row(s, issuer)
            return None if row is None else CrlInfo.from_row(row)

    @contextmanager
    def _locked_issuer(self, issuer: str) -> Iterator[tuple[Session, PkiCrlHead]]:
        """A transaction holding the issuer's head row: CRL issuers run one at a time."""
        with self.db.session() as s:
            values = {"issuer": issuer, "crl_number": 0, "touched_at": _iso(self.now())}
            insert_ignore(s, PkiCrlHead, [values], ("issuer",))
            head = s.execute(
                select(PkiCrlHead)
                .where(PkiCrlHead.issuer == issuer)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one()
            yield s, head

    def _validity(self, issuer: str) -> timedelta:
        return timedelta(hours=ROOT_CRL_HOURS if issuer == "root" else self.settings.pki.crl_validity_hours)

    def _build_crl(self, s: Session, head: PkiCrlHead, issuer: str) -> PkiCrl:
        ca = CertificateRecord.from_row(self._current_row_required(s, issuer))
        rows = s.scalars(
            select(PkiCertificate)
            .where(PkiCertificate.issuer_serial == ca.serial, PkiCertificate.revoked_at.is_not(None))
            .order_by(PkiCertificate.revoked_at, PkiCertificate.serial)
        ).all()
        now = self.now().replace(microsecond=0)
        number = head.crl_number + 1
        builder = _x509.crl_builder(
            ca.certificate,
            number=number,
            this_update=now,
            next_update=now + self._validity(issuer),
            revoked=[
                (
                    int(r.serial, 16),
                    datetime.fromisoformat(r.revoked_at or ""),
                    r.revocation_reason or "unspecified",
                    _parse_iso(r.invalidity_date),
                )
                for r in rows
            ],
        )
        crl = _x509.sign_crl(
            builder, self.keystore.signer(self._issuer_key(issuer)), _x509.ec_public_key(ca.certificate)
        )
        der = crl.public_bytes(serialization.Encoding.DER)
        row = PkiCrl(
            issuer=issuer,
            crl_number=number,
            issuer_serial=ca.serial,
            this_update=_iso(now),
            next_update=_iso(now + self._validity(issuer)),
            revoked_count=len(rows),
            sha256=hashlib.sha256(der).hexdigest(),
            crl_der=der,
        )
        s.add(row)
        head.crl_number = number
        head.touched_at = _iso(now)
        s.flush()
        return row

    def _current_row_required(self, s: Session, role: str) -> PkiCertificate:
        row = self._current_row(s, role)
        if row is None:
            raise PkiNotInitialised("the PKI has no CA yet: run `tongban pki init`")
        return row

    def issue_crl(self, issuer: str = "issuing", *, only_if_due: bool = False) -> CrlInfo:
        """Issue the next CRL of ``issuer`` (``issuing`` or ``root``) and write it to the PKI folder."""
        if issuer not in ("issuing", "root"):
            raise PkiError(f"unknown CRL issuer {issuer!r}: use issuing or root", code="PKI_CRL_ISSUER")
        with self._locked_issuer(issuer) as (s, head):
            latest = self._latest_crl_row(s, issuer)
            if only_if_due and latest is not None and not self._due(CrlInfo.from_row(latest)):
                info = CrlInfo.from_row(latest)  # another process refreshed it meanwhile
            else:
                info = CrlInfo.from_row(self._build_crl(s, head, issuer))
        self._write_crl(info)
        log_event(log, "pki.crl_issued", issuer=issuer, number=info.number, revoked=info.revoked_count)
        return info

    def _due(self, info: CrlInfo) -> bool:
        """Re-issue once half of the validity has passed (well before nextUpdate)."""
        return self.now() >= info.this_update + (info.next_update - info.this_update) / 2

    def crl(self, issuer: str = "issuing", *, refresh: bool = True) -> CrlInfo:
        """The newest CRL of ``issuer``; re-issued first when due and the issuer's key is here."""
        info = self._latest_crl(issuer)
        if (info is None or (refresh and self._due(info))) and self._can_sign(issuer):
            return self.issue_crl(issuer, only_if_due=info is not None)
        if info is None:
            raise PkiNotInitialised(f"no CRL of {issuer!r} yet: run `tongban pki init`")
        return info

    def revoke(
        self, serial: str | int, reason: str = "unspecified", *, invalidity_date: datetime | None = None
    ) -> RevocationResult:
        """Revoke a certificate (final) and issue its issuer's next CRL in the same transaction.

        Revoking a revoked certificate changes nothing and says so (``already_revoked``).
        """
        reason = _x509.parse_reason(reason)
        record = self.find(serial)
        issuer = self._issuer_name(record)
        if not self._can_sign(issuer):
            raise PkiError(
                f"the {issuer} CA key is not held here, so its CRL cannot be issued",
                code="PKI_NO_CA_KEY",
            )
        already = False
        with self._locked_issuer(issuer) as (s, head):
            row = s.get(PkiCertificate, record.serial, populate_existing=True)
            assert row is not None
            if row.revoked_at is not None:
                already = True
                latest = self._latest_crl_row(s, issuer)
                crl_row = latest if latest is not None else self._build_crl(s, head, issuer)
            else:
                now = self.now().replace(microsecond=0)
                row.revoked_at = _iso(now)
                row.revocation_reason = reason
                row.invalidity_date = _iso(invalidity_date) if invalidity_date else None
                s.flush()
                crl_row = self._build_crl(s, head, issuer)
                payload = {
                    "serial": row.serial,
                    "role": row.role,
                    "reason": reason,
                    "crl_number": crl_row.crl_number,
                }
                ledger.append(s, LEDGER_STREAM, "certificate.revoked", payload)
                events.record_event(s, "pki.certificate_revoked", "certificate", row.serial, payload)
            result = RevocationResult(CertificateRecord.from_row(row), CrlInfo.from_row(crl_row), already)
        self._write_crl(result.crl)
        if not already:
            log_event(log, "pki.certificate_revoked", serial=record.serial, role=record.role, reason=reason)
            with self._lock:
                self._tsa_checked = 0.0  # the TSA re-reads its certificate's state on next use
        return result

    # -- importing a real CA or certificate -------------------------------------------------------
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
        if self.current("root") is not None:
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
        steps = []
        for key, name, cert in ((issuing_key, ISSUING_KEY, issuing), (root_key, ROOT_KEY, root)):
            if key is not None:
                if key.public_key() != cert.public_key():
                    raise ImportRejected(f"the key given for {name} does not match its certificate")
                if self.keystore.has_key(name):
                    raise ImportRejected(f"the key store already holds a key {name!r}")
                self.keystore.import_signing_key(name, key)
                steps.append(f"key {name} imported")
            elif self.keystore.has_key(name):
                if self.keystore.signer(name).public_key() != cert.public_key():
                    raise ImportRejected(f"the key store's {name!r} does not match the {name} certificate")
            elif name == ISSUING_KEY:
                raise ImportRejected(
                    "the issuing CA key is needed: pass it, or put it in the key store as pki.issuing-ca"
                )
        self._record_ca_pair(
            root,
            issuing,
            root_key_name=ROOT_KEY if self.keystore.has_key(ROOT_KEY) else None,
            source="imported",
        )
        self.keystore.store_certificate(ISSUING_KEY, issuing)
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
        issuing = self._require("issuing")
        department = None
        if role.startswith("seal:"):
            department = self.departments.get(role.removeprefix("seal:"))
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
        generation = self._next_generation(role)
        key_name = {"tsa": TSA_KEY, "platform": PLATFORM_KEY}.get(kind) or seal_key_name(
            department.code if department else "", generation
        )
        if key is not None:
            if key.public_key() != cert.public_key():
                raise ImportRejected("the key does not match the certificate")
            if self.keystore.has_key(key_name):
                raise ImportRejected(
                    f"the key store already holds {key_name!r}; import the certificate alone"
                )
            self.keystore.import_signing_key(key_name, key)
        elif (
            not self.keystore.has_key(key_name)
            or self.keystore.signer(key_name).public_key() != cert.public_key()
        ):
            raise ImportRejected(f"no key for this certificate in the key store ({key_name}); pass --key")
        with self.db.session() as s:
            row = self._insert(
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
        self.keystore.store_certificate(key_name, cert)
        self.materialize()
        return record

    # -- files for tools --------------------------------------------------------------------------
    def _write_crl(self, info: CrlInfo) -> None:
        _write_atomic(self.folder / "crl" / f"{info.issuer}.crl", info.der)

    def materialize(self) -> None:
        """Rewrite the PKI folder from the database: CA, TSA, platform and current seal certificates, CRLs."""
        root, issuing = self.root_certificate(), self.issuing_certificate()
        _write_atomic(self.folder / "root.crt.pem", _pem(root))
        _write_atomic(self.folder / "issuing.crt.pem", _pem(issuing))
        _write_atomic(self.folder / "chain.pem", _pem(issuing) + _pem(root))
        for role in ("tsa", "platform"):
            rec = self.current(role)
            if rec is not None:
                _write_atomic(self.folder / f"{role}.crt.pem", _pem(rec.certificate))
        for dept in self.departments:
            rec = self.current(f"seal:{dept.code}")
            if rec is not None:
                _write_atomic(self.folder / "seals" / f"{dept.code}.crt.pem", _pem(rec.certificate))
        for issuer in ("issuing", "root"):
            info = self._latest_crl(issuer)
            if info is not None:
                self._write_crl(info)

    def export_trust(self, out: Path) -> dict[str, Path]:
        """Write the trust material as PEM files: root, issuing CA, TSA, a bundle, the current CRLs."""
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, bytes] = {
            "root.pem": _pem(self.root_certificate()),
            "issuing.pem": _pem(self.issuing_certificate()),
            "trust-bundle.pem": _pem(self.root_certificate()) + _pem(self.issuing_certificate()),
        }
        tsa = self.current("tsa")
        if tsa is not None:
            files["tsa.pem"] = _pem(tsa.certificate)
        for issuer in ("issuing", "root"):
            with suppress(PkiNotInitialised):
                files[f"{issuer}.crl.pem"] = self.crl(issuer).pem
        written = {}
        for name, data in files.items():
            _write_atomic(out / name, data)
            written[name] = out / name
        return written

    # -- reporting ---------------------------------------------------------------------------------
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
                "not_after": _iso(rec.not_after),
                "generation": rec.generation,
                "state": rec.state(now),
                "source": rec.source,
            }

        seals = []
        for dept in self.departments:
            rec = self.current(f"seal:{dept.code}")
            seals.append({"department": dept.code, "name": dept.name, "uscc": dept.uscc, "seal": brief(rec)})
        crls = [
            info.as_dict() for info in (self._latest_crl(i) for i in ("issuing", "root")) if info is not None
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


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None
