"""Signed data-quality receipts (DQ 回执): one compact JWS (ES256) per batch, signed with the
platform key (:data:`core.keys.base.PLATFORM_KEY`) and recorded in the audit ledger.

Payload (``typ`` ``tongban-dq-receipt``)::

    {"v": 2, "batch_hash", "batch_name", "suite_version", "suite_hash", "issued_at",
     "counts": {"rows","curated","held","quarantined","released","expired","file_quarantined"},
     "rules": {rule_id: rows failing it}, "held_reasons": {...}, "flags": {...},
     "objects": {name: {"zone","key","address","size"[,"rows"]}},  # held, quarantine, raw, report
     "platform": <platform name>}

Verification (:func:`verify_receipt`) checks, and names every failure in ``reasons``:

* ``signature``     the JWS verifies with the platform public key of the key store (any changed
                    byte of the receipt breaks it);
* ``certificate``   when the PKI has stored a certificate for the platform key: it carries the same
                    public key, was valid at ``issued_at``, and chains by signature to a self-signed
                    root that is also in the key store (no revocation check here);
* ``object:<name>`` every referenced object still exists under the address the receipt names and
                    reads back through the store's checks, with the receipt's size (skipped with
                    ``check_objects=False``). The address is the store's own: a keyed HMAC-SHA256
                    of the plaintext in the citizen-data zones (no plain hash of citizen data is
                    published), SHA-256 in ``reports``; the store recomputes it on every read and
                    refuses changed bytes, so any changed byte of an object fails the receipt.
                    Receipts written before addresses were used name a plaintext ``sha256``,
                    which is still compared.

Public API::

    RECEIPT_TYP, LEDGER_STREAM
    receipt_kid(public_key) -> str
    sign_receipt(signer, payload) -> str
    ReceiptCheck(valid, payload, reasons, checked) ; .as_dict()
    verify_receipt(token, *, keystore, outputs=None, check_objects=True) -> ReceiptCheck
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import CoreError
from core.jws import JwsError, read_header, sign_compact, verify_compact
from core.keys import AnyKeyStore
from core.keys.base import PLATFORM_KEY, Signer
from core.store import Zone
from quality.outputs import Outputs

RECEIPT_TYP = "tongban-dq-receipt"
LEDGER_STREAM = "quality.receipts"


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def receipt_kid(public_key: ec.EllipticCurvePublicKey) -> str:
    """``platform:`` + the first 16 hex digits of the SHA-256 of the key's SubjectPublicKeyInfo."""
    return f"{PLATFORM_KEY}:{hashlib.sha256(_spki(public_key)).hexdigest()[:16]}"


def sign_receipt(signer: Signer, payload: dict[str, Any]) -> str:
    return sign_compact(signer, payload, kid=receipt_kid(signer.public_key()), typ=RECEIPT_TYP)


@dataclass
class ReceiptCheck:
    valid: bool
    payload: dict[str, Any] | None
    reasons: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        p = self.payload or {}
        return {
            "valid": self.valid,
            "batch_hash": p.get("batch_hash"),
            "issued_at": p.get("issued_at"),
            "counts": p.get("counts"),
            "checked": self.checked,
            "reasons": self.reasons,
        }


def _chain_problem(cert: x509.Certificate, keystore: AnyKeyStore, at: datetime) -> str | None:
    """None when ``cert`` chains, by signature and validity at ``at``, to a self-signed root held
    in the key store; else what is wrong."""
    pool: list[x509.Certificate] = []
    for name in keystore.list_keys():
        c = keystore.certificate(name)
        if c is not None:
            pool.append(c)
    current, seen = cert, 0
    while seen < 8:
        seen += 1
        if not (current.not_valid_before_utc <= at <= current.not_valid_after_utc):
            return f"certificate {current.subject.rfc4514_string()} was not valid at {at.isoformat()}"
        if current.issuer == current.subject:
            try:
                current.verify_directly_issued_by(current)
            except Exception:
                return "self-signed root certificate does not verify"
            return None
        issuers = [c for c in pool if c.subject == current.issuer]
        parent = None
        for candidate in issuers:
            try:
                current.verify_directly_issued_by(candidate)
            except Exception:  # noqa: S112 - not this issuer; try the next candidate
                continue
            parent = candidate
            break
        if parent is None:
            return f"no certificate in the key store issued {current.subject.rfc4514_string()}"
        current = parent
    return "certificate chain too long"


def _object_problem(outputs: Outputs, ref: Any) -> str | None:
    """None when the object a receipt names reads back intact and as described, else what is wrong."""
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k), str) for k in ("zone", "key")):
        return "the receipt's reference is malformed"
    try:
        zone = Zone.parse(ref["zone"])
    except CoreError as exc:
        return f"unknown zone: {exc} [{exc.code}]"
    if "address" in ref and ref["address"] != zone.address_alg:
        return f"the receipt names address {ref['address']!r}, zone {zone.value} uses {zone.address_alg}"
    try:
        # the store recomputes the address over the plaintext and raises IntegrityError on any change
        data = outputs.get(zone, ref["key"])
    except CoreError as exc:
        return f"cannot be read: {exc} [{exc.code}]"
    if "size" in ref and len(data) != ref["size"]:
        return f"has {len(data)} bytes, the receipt names {ref['size']}"
    # v1 receipts named a plaintext sha256
    if "sha256" in ref and hashlib.sha256(data).hexdigest() != ref["sha256"]:
        return "content does not match the receipt's sha256"
    return None


def verify_receipt(
    token: str,
    *,
    keystore: AnyKeyStore,
    outputs: Outputs | None = None,
    check_objects: bool = True,
) -> ReceiptCheck:
    """Check a receipt's signature, the platform certificate chain (when one exists) and every
    referenced object; never raises for a bad receipt (``valid`` is False with reasons)."""
    token = token.strip()
    check = ReceiptCheck(valid=False, payload=None)
    try:
        header = read_header(token)
    except JwsError as exc:
        check.reasons.append(f"signature: {exc}")
        return check
    if header.get("typ") != RECEIPT_TYP:
        check.reasons.append(f"signature: not a data-quality receipt (typ {header.get('typ')!r})")
        return check
    try:
        public = keystore.public_key(PLATFORM_KEY)
    except CoreError as exc:
        check.reasons.append(f"signature: platform public key unavailable: {exc}")
        return check
    try:
        payload = verify_compact(token, public)
    except (JwsError, ValueError) as exc:
        check.reasons.append(f"signature: {exc}")
        return check
    check.payload = payload
    check.checked.append("signature")
    if header.get("kid") != receipt_kid(public):
        check.reasons.append("signature: kid does not name the platform key")

    cert = keystore.certificate(PLATFORM_KEY)
    if cert is not None:
        check.checked.append("certificate")
        try:
            issued_at = datetime.fromisoformat(str(payload.get("issued_at")))
        except ValueError:
            check.reasons.append("certificate: receipt has no valid issued_at")
        else:
            if _spki(cert.public_key()) != _spki(public):  # type: ignore[arg-type]
                check.reasons.append("certificate: the platform certificate is for another key")
            else:
                problem = _chain_problem(cert, keystore, issued_at)
                if problem:
                    check.reasons.append(f"certificate: {problem}")

    if check_objects:
        if outputs is None:
            check.reasons.append("objects: no object store to check the referenced objects against")
        else:
            objects = payload.get("objects") or {}
            for name, ref in sorted(objects.items()):
                check.checked.append(f"object:{name}")
                problem = _object_problem(outputs, ref)
                if problem:
                    check.reasons.append(f"object:{name}: {problem}")
    check.valid = not check.reasons
    return check
