"""Making certificates: the sample root and issuing CA, the end-entity certificates below the
issuing CA (TSA, platform seal, one seal per department) with their subject names, ``init`` (make
what is missing, idempotently) and seal rotation (a new key and certificate; the old certificate
stays valid, ``superseded``).
"""

from __future__ import annotations

import logging

from cryptography import x509
from sqlalchemy.exc import IntegrityError

from core import events
from core.keys.base import PLATFORM_KEY
from core.logging import log_event
from licenses.pki import _x509
from licenses.pki._context import PkiContext
from licenses.pki._x509 import SAMPLE_MARK
from licenses.pki.crl import Crls
from licenses.pki.departments import Department
from licenses.pki.errors import PkiError, PkiNotInitialised
from licenses.pki.records import ISSUING_KEY, ROOT_KEY, TSA_KEY, CertificateRecord, seal_key_name

log = logging.getLogger("tongban.pki")

PROVINCE = "四川省"
CN_MAX_BYTES = 64  # cryptography (and some tools) count the commonName bound in UTF-8 bytes
ROOT_DAYS = 7305  # 20 years
ISSUING_DAYS = 3652  # 10 years
TSA_DAYS = 1826  # 5 years


class Hierarchy:
    """Issue the CA pair and the certificates below it (callers hold the PKI's lock)."""

    def __init__(self, ctx: PkiContext, crls: Crls) -> None:
        self.ctx = ctx
        self.crls = crls
        self.base_url = ctx.settings.pki.public_base_url.rstrip("/")

    def init(self) -> list[str]:
        """Make what is missing: sample CA (when allowed), CRLs, TSA, platform and department seals.

        Idempotent: a second run changes nothing and says so. Returns one line per step.
        """
        steps: list[str] = []
        inv, settings = self.ctx.inventory, self.ctx.settings
        if inv.current("root") is None:
            if not settings.pki.sample:
                raise PkiNotInitialised(
                    "no CA and TONGBAN_PKI__SAMPLE=false: import the CA with `tongban pki import-ca` "
                    "before `tongban pki init`"
                )
            self._make_sample_ca()
            steps.append(f"PKI: sample root and issuing CA created ({SAMPLE_MARK})")
        else:
            steps.append(f"PKI: root CA present ({'sample' if inv.is_sample() else 'imported'})")
        if inv.current("issuing") is None:
            raise PkiNotInitialised("the root CA has no issuing CA: import one with `tongban pki import-ca`")
        for issuer in ("issuing", "root"):
            if self.crls.latest(issuer) is None and self.crls.can_sign(issuer):
                crl = self.crls.issue_crl(issuer)
                steps.append(f"PKI: CRL {issuer} #{crl.number} issued")
        made = []
        for role in ("tsa", "platform"):
            if inv.current(role) is None:
                self.issue_end_entity(role)
                made.append(role)
        for dept in self.ctx.departments:
            if inv.current(f"seal:{dept.code}") is None:
                self.issue_end_entity(f"seal:{dept.code}", dept)
                made.append(dept.code)
        steps.append(
            f"PKI: certificates issued for {', '.join(made)}"
            if made
            else "PKI: TSA, platform and seals present"
        )
        now = self.ctx.now()
        unusable = [
            f"{r.role} ({r.state(now)})"
            for r in (inv.current(role) for role in self._end_entity_roles())
            if r is not None and r.state(now) in ("revoked", "expired")
        ]
        if unusable:
            steps.append(f"PKI: needs `tongban pki rotate-seal`: {', '.join(unusable)}")
        return steps

    def rotate(self, department: str) -> tuple[str, Department | None]:
        """A new generation for a department's seal (``tsa``, ``platform``: for that role); the role
        and department rotated. Records ``pki.seal_rotated`` for a department."""
        if department in ("tsa", "platform"):
            self.issue_end_entity(department)
            return department, None
        dept = self.ctx.departments.get(department)
        role = f"seal:{dept.code}"
        previous = self.ctx.inventory.current(role)
        record = self.issue_end_entity(role, dept)
        with self.ctx.db.session() as s:
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
        return role, dept

    def issue_end_entity(self, role: str, department: Department | None = None) -> CertificateRecord:
        """A new generation for ``role``: a new key (seals) or the role's fixed key, a new certificate."""
        issuing = self.ctx.inventory.require("issuing")
        sample = self.ctx.inventory.is_sample()
        generation = self.ctx.inventory.next_generation(role)
        if role == "tsa":  # a new key per generation: pki.tsa, pki.tsa.2, …
            key_name = TSA_KEY if generation == 1 else f"{TSA_KEY}.{generation}"
            kind, days = "tsa", TSA_DAYS
        elif role == "platform":
            key_name, kind, days = PLATFORM_KEY, "platform", self.ctx.settings.pki.seal_validity_days
        else:
            assert department is not None
            key_name, kind = seal_key_name(department.code, generation), "seal"
            days = self.ctx.settings.pki.seal_validity_days
        keystore = self.ctx.keys()
        signer = keystore.create_signing_key(key_name, exist_ok=True)
        ca_signer = keystore.signer(ISSUING_KEY)
        cert = _x509.end_entity_certificate(
            ca_signer,
            issuing.certificate,
            signer.public_key(),
            self._subject(role, sample, department),
            now=self.ctx.now(),
            days=days,
            base_url=self.base_url,
            sample=sample,
            timestamping=role == "tsa",
        )
        try:
            with self.ctx.db.session() as s:
                row = self.ctx.inventory.insert(
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
        keystore.store_certificate(key_name, cert)
        log_event(
            log,
            "pki.certificate_issued",
            logging.DEBUG,
            role=role,
            serial=record.serial,
            generation=generation,
        )
        return record

    def _make_sample_ca(self) -> None:
        now = self.ctx.now()
        keystore = self.ctx.keys()
        root_signer = keystore.create_signing_key(ROOT_KEY, exist_ok=True)
        root = _x509.root_certificate(
            root_signer, self._subject("root", True), now=now, days=ROOT_DAYS, sample=True
        )
        issuing_signer = keystore.create_signing_key(ISSUING_KEY, exist_ok=True)
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
        self.ctx.inventory.record_ca_pair(root, issuing, root_key_name=ROOT_KEY, source="sample")
        keystore.store_certificate(ROOT_KEY, root)
        keystore.store_certificate(ISSUING_KEY, issuing)

    def _end_entity_roles(self) -> list[str]:
        return ["tsa", "platform", *(f"seal:{d.code}" for d in self.ctx.departments)]

    def _subject(self, role: str, sample: bool, department: Department | None = None) -> x509.Name:
        unit = _mark("电子证照", sample)
        if role in ("root", "issuing"):
            what = "根CA" if role == "root" else "签发CA"
            return _x509.name(
                common_name=_mark(f"{PROVINCE}电子证照{what}", sample),
                organization=_mark(f"{PROVINCE}电子证照认证中心", sample),
                unit=unit,
                province=PROVINCE,
            )
        if role in ("tsa", "platform"):
            what = "通办时间戳服务" if role == "tsa" else "通办共享平台电子印章"
            return _x509.name(
                common_name=_mark(what, sample),
                organization=self.ctx.settings.platform_name,
                unit=unit,
                province=PROVINCE,
            )
        assert department is not None
        return _x509.name(
            common_name=_common_name([department.seal_name, department.name], sample),
            organization=department.name,
            unit=_mark("电子印章", sample),
            province=department.province,
            locality=department.locality,
            organization_identifier=f"NTRCN-{department.uscc}",
        )


def _mark(text: str, sample: bool) -> str:
    return f"{text}（{SAMPLE_MARK}）" if sample else text


def _common_name(candidates: list[str], sample: bool) -> str:
    """The first candidate that fits a commonName (64 bytes of UTF-8) with the sample mark."""
    marks = [f"（{SAMPLE_MARK}）", "（样例）"] if sample else [""]
    for text in candidates:
        for mark in marks:
            if len((text + mark).encode()) <= CN_MAX_BYTES:
                return text + mark
    raise PkiError(f"no common name fits 64 bytes among {candidates}", code="PKI_NAME_TOO_LONG")
