"""PAdES signing of license files with pyhanko (private: raw pyhanko and ASN.1 work).

A license gets one **certification signature** (DocMDP P=1, no changes allowed; PAdES long-term
additions — DSS updates and document timestamps — stay allowed) made with the department's seal
key from the key store. Profiles:

* ``B-B``   signature only;
* ``B-T``   + a signature timestamp from the TSA;
* ``B-LT``  + the certificates and CRLs in the DSS, so the file verifies offline (default);
* ``B-LTA`` + a document timestamp over all of that.

Performance (FACTS.md): one :class:`SealSigner` per seal is built once and reused for every
document — the pyhanko signer, the ``PdfSigner`` and the validation context are created once,
the signature size is reserved up front (``bytes_reserved``, no sizing pass), and the async path
is used so a caller can sign in one event loop. The private key never leaves the key store's
:class:`~core.keys.Signer`: pyhanko asks :class:`KeyStorePdfSigner` for a raw signature over the
signed attributes, whatever the backend (file or PKCS#11).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from asn1crypto import algos
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.keys import Signer
from licenses.errors import SigningError

Profile = Literal["B-B", "B-T", "B-LT", "B-LTA"]
PROFILES: tuple[Profile, ...] = ("B-B", "B-T", "B-LT", "B-LTA")
DEFAULT_PROFILE: Profile = "B-LT"
FIELD_NAME = "ZZQZ"  # 证照签章: the certification signature field
# hex digits reserved for the CMS blob: seal cert + issuing CA + a timestamp token with its chain
# (~12 000 with our PKI); reserving skips pyhanko's sizing pass
BYTES_RESERVED = 16384

# B-LT signs offline on purpose (the CRLs are given): pyhanko's warning about it is noise
logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def crl_to_asn1(crl: x509.CertificateRevocationList | bytes) -> asn1_crl.CertificateList:
    der = crl if isinstance(crl, bytes) else crl.public_bytes(serialization.Encoding.DER)
    return asn1_crl.CertificateList.load(der)


def _pyhanko_signer_base() -> type:
    from pyhanko.sign.signers.pdf_cms import Signer as PyhankoSigner

    base: type = PyhankoSigner
    return base


class KeyStorePdfSigner(_pyhanko_signer_base()):  # type: ignore[misc]
    """A pyhanko ``Signer`` over a key-store :class:`~core.keys.Signer` (ECDSA P-256, SHA-256)."""

    def __init__(self, signer: Signer, cert: x509.Certificate, chain: Sequence[x509.Certificate]) -> None:
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        super().__init__(
            signing_cert=to_asn1(cert),
            cert_registry=SimpleCertificateStore.from_certs([to_asn1(c) for c in chain]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            embed_roots=False,
        )
        self._key_signer = signer

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm.lower() != "sha256":
            raise SigningError(f"the seal key signs SHA-256 only, not {digest_algorithm}")
        if dry_run:
            return bytes(72)  # the longest DER ECDSA P-256 signature
        return self._key_signer.sign(data)


@dataclass(frozen=True)
class Trust:
    """What a signer or verifier trusts: root certificates, intermediates and current CRLs."""

    roots: Sequence[x509.Certificate]
    intermediates: Sequence[x509.Certificate] = ()
    crls: Sequence[bytes] = ()  # DER

    def validation_context(self, *, moment: Any = None, for_signing: bool = False) -> Any:
        from pyhanko_certvalidator import ValidationContext

        kwargs: dict[str, Any] = {}
        if moment is not None:
            kwargs["moment"] = moment
        return ValidationContext(
            trust_roots=[to_asn1(c) for c in self.roots],
            other_certs=[to_asn1(c) for c in self.intermediates],
            crls=[crl_to_asn1(c) for c in self.crls],
            allow_fetching=False,
            revocation_mode="hard-fail",
            **kwargs,
        )


@dataclass(frozen=True)
class SignedLicense:
    pdf: bytes
    certified_length: int  # bytes of the certified revision (up to the certification signature's end)

    @property
    def certified_sha256(self) -> str:
        return hashlib.sha256(self.pdf[: self.certified_length]).hexdigest()


def certified_revision_length(pdf: bytes) -> int:
    """Length of the revision that the first (certification) signature covers."""
    m = _BYTE_RANGE.search(pdf)
    if m is None:
        raise SigningError("the file has no signature /ByteRange", code="LICENSE_NOT_SIGNED")
    _a, _b, c, d = (int(g) for g in m.groups())
    return c + d


class SealSigner:
    """Signs license PDFs with one department seal; build once, reuse for every document."""

    def __init__(
        self,
        *,
        key: Signer,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate],
        trust: Trust,
        timestamper: Any = None,
        profile: Profile = DEFAULT_PROFILE,
        seal_name: str | None = None,
        location: str | None = None,
    ) -> None:
        from pyhanko.sign import fields, signers

        if profile not in PROFILES:
            raise SigningError(f"unknown PAdES profile {profile!r}: use one of {', '.join(PROFILES)}")
        if profile != "B-B" and timestamper is None:
            raise SigningError(f"profile {profile} needs a timestamp authority (TSA)")
        self.profile = profile
        self.certificate = certificate
        self._pdf_signer_key = KeyStorePdfSigner(key, certificate, chain)
        long_term = profile in ("B-LT", "B-LTA")
        vc = trust.validation_context(for_signing=True) if long_term else None
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            md_algorithm="sha256",
            certify=True,
            docmdp_permissions=fields.MDPPerm.NO_CHANGES,
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=long_term,
            use_pades_lta=profile == "B-LTA",
            validation_context=vc,
            name=seal_name,
            location=location,
            reason="电子证照签发（样例）",
            signer_key_usage={"digital_signature"},
        )
        self._pdf_signer = signers.PdfSigner(
            meta,
            self._pdf_signer_key,
            timestamper=timestamper if profile != "B-B" else None,
        )

    async def async_sign(
        self, pdf: bytes, *, before_sign: Callable[[Any], None] | None = None
    ) -> SignedLicense:
        """Certify ``pdf`` (one incremental update, plus DSS / document timestamp as the profile says)."""
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign.general import SigningError as PyhankoSigningError

        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        if before_sign is not None:
            before_sign(writer)
        try:
            out = await self._pdf_signer.async_sign_pdf(writer, bytes_reserved=BYTES_RESERVED)
        except PyhankoSigningError as exc:
            raise SigningError(f"signing failed: {exc}") from exc
        data = out.getvalue()
        return SignedLicense(data, certified_revision_length(data))

    def sign(self, pdf: bytes) -> SignedLicense:
        """Synchronous wrapper (its own event loop): use :meth:`async_sign` inside async code."""
        return asyncio.run(self.async_sign(pdf))
