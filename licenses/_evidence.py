"""What keeps a stored license verifiable, read from the file (private: raw pyhanko / ASN.1 work).

The **newest timestamp** — the last document timestamp (B-LTA), else the seal signature's own
timestamp (B-T / B-LT) — protects everything before it: the signature, and the certificates and
revocation data captured in the DSS while they were still valid. So the evidence needs renewing when

* that timestamp's TSA certificate comes within the margin of its expiry (``tsa_certificate``) —
  a new timestamp only helps when the TSA's current certificate is not near its end too, which
  :func:`licenses.archive.archive_due` checks with one probe token before it re-stamps;
* a certificate of the validation data (DSS, or carried in a signature or timestamp token) comes
  within the margin of its expiry and no timestamp was taken since it did (``certificate``) —
  once it was captured under a later timestamp, it is covered;
* an algorithm of the newest protecting layer is deprecated (``algorithm``): the newest timestamp's
  message-imprint hash, digest and signature algorithms and its TSA certificate's signature
  algorithm — and, while there is no document timestamp, those of the seal signature itself.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509


@dataclass(frozen=True)
class Due:
    """One reason a file's evidence needs renewing."""

    kind: str  # tsa_certificate | certificate | algorithm
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass
class Evidence:
    newest_time: datetime | None = None
    newest_is_document_timestamp: bool = False
    tsa_certificate: asn1_x509.Certificate | None = None
    certificates: list[asn1_x509.Certificate] = field(default_factory=list)
    algorithms: set[str] = field(default_factory=set)  # of the newest protecting layer


def signer_algorithms(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> set[str]:
    out = {str(signer_info["digest_algorithm"]["algorithm"].native)}
    sig = signer_info["signature_algorithm"]
    out.add(str(sig["algorithm"].native))
    try:
        out.add(str(sig.signature_algo))
        if sig.hash_algo:
            out.add(str(sig.hash_algo))
    except ValueError:  # a bare signature algorithm without its hash (e.g. ECDSA + digest_algorithm)
        pass
    content = signed_data["encap_content_info"]["content"]
    if content is not None and signed_data["encap_content_info"]["content_type"].native == "tst_info":
        tst = content.parsed
        out.add(str(tst["message_imprint"]["hash_algorithm"]["algorithm"].native))
    return out


def _certs(signed_data: cms.SignedData) -> list[asn1_x509.Certificate]:
    certs = signed_data["certificates"]
    if not certs or certs.native is None:
        return []
    return [c.chosen for c in certs if c.name == "certificate"]


def signer_certificate(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo
) -> asn1_x509.Certificate | None:
    sid = signer_info["sid"]
    for c in _certs(signed_data):
        if sid.name == "issuer_and_serial_number":
            if c.serial_number == sid.chosen["serial_number"].native and c.issuer == sid.chosen["issuer"]:
                return c
        elif c.key_identifier == sid.chosen.native:
            return c
    return None


def _token_time(signed_data: cms.SignedData) -> datetime | None:
    content = signed_data["encap_content_info"]["content"]
    if content is None:
        return None
    tst = content.parsed
    if not isinstance(tst, tsp.TSTInfo):
        return None
    gen: datetime = tst["gen_time"].native
    return gen


def read_evidence(pdf: bytes) -> Evidence:
    """The newest timestamp, its TSA certificate and algorithms, and every certificate in the file."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    ev = Evidence()
    # (time, position in the file, is a document timestamp, token, signer): a TSA's genTime has a
    # resolution of one second, so a document timestamp taken in the second of the seal's own
    # timestamp ties with it; the later layer in the file covers the earlier, so position breaks it
    layers: list[tuple[datetime, int, bool, cms.SignedData, cms.SignerInfo]] = []
    seal_algorithms: set[str] = set()
    for es in reader.embedded_signatures:
        sd: cms.SignedData = es.signed_data
        si: cms.SignerInfo = es.signer_info
        ev.certificates += _certs(sd)
        if es.sig_object_type == "/DocTimeStamp":
            when = _token_time(sd)
            if when is not None:
                layers.append((when, len(layers), True, sd, si))
            continue
        seal_algorithms |= signer_algorithms(sd, si)
        attrs = si["unsigned_attrs"]
        if attrs and attrs.native is not None:
            for attr in attrs:
                if attr["type"].native == "signature_time_stamp_token":
                    token = attr["values"][0]["content"]
                    ev.certificates += _certs(token)
                    when = _token_time(token)
                    if when is not None:
                        layers.append((when, len(layers), False, token, token["signer_infos"][0]))
    dss = reader.root.get("/DSS")
    if dss is not None:
        for ref in dss.get_object().get("/Certs", []):
            try:
                ev.certificates.append(asn1_x509.Certificate.load(ref.get_object().data))
            except ValueError:
                continue
    if layers:
        when, _, is_doc, sd, si = max(layers, key=lambda x: (x[0], x[1]))
        ev.newest_time, ev.newest_is_document_timestamp = when, is_doc
        ev.tsa_certificate = signer_certificate(sd, si)
        ev.algorithms = signer_algorithms(sd, si)
        if ev.tsa_certificate is not None:
            ev.algorithms |= cert_algorithms(ev.tsa_certificate)
        if not is_doc:
            ev.algorithms |= seal_algorithms
    else:
        ev.algorithms = seal_algorithms
    return ev


def cert_algorithms(cert: asn1_x509.Certificate) -> set[str]:
    sig = cert["signature_algorithm"]
    out = {str(sig["algorithm"].native)}
    try:
        out.add(str(sig.signature_algo))
        if sig.hash_algo:
            out.add(str(sig.hash_algo))
    except ValueError:
        pass
    return out


def _name(cert: asn1_x509.Certificate) -> str:
    cn = cert.subject.native.get("common_name") or cert.subject.human_friendly
    return f"{cn} (serial {cert.serial_number:x})"


def renewal_due(ev: Evidence, *, now: datetime, margin: timedelta, deprecated: set[str]) -> list[Due]:
    """Why ``ev`` needs a new document timestamp now (empty: it does not); see the module docstring."""
    out: list[Due] = []
    horizon = now + margin
    tsa = ev.tsa_certificate
    if tsa is not None and tsa.not_valid_after <= horizon:  # no timestamp covers its own TSA
        out.append(Due("tsa_certificate", f"{_name(tsa)} expires {tsa.not_valid_after.isoformat()}"))
    seen: set[bytes] = set()
    for c in ev.certificates:
        key = c.sha256
        if key in seen or c is tsa or (tsa is not None and key == tsa.sha256):
            continue
        seen.add(key)
        end = c.not_valid_after
        if end > horizon:
            continue
        if ev.newest_time is not None and ev.newest_time >= end - margin:
            continue  # captured under a timestamp taken once it was near its end: covered
        out.append(Due("certificate", f"{_name(c)} expires {end.isoformat()}"))
    bad = sorted(a for a in ev.algorithms if a.lower() in deprecated)
    if bad:
        out.append(Due("algorithm", f"deprecated in settings: {', '.join(bad)}"))
    return out


def describe(ev: Evidence) -> dict[str, Any]:
    """A JSON-able view (for reports and tests)."""
    tsa = ev.tsa_certificate
    return {
        "newest_timestamp": ev.newest_time.isoformat() if ev.newest_time else None,
        "document_timestamp": ev.newest_is_document_timestamp,
        "tsa_certificate": _name(tsa) if tsa is not None else None,
        "tsa_not_after": tsa.not_valid_after.isoformat() if tsa is not None else None,
        "algorithms": sorted(ev.algorithms),
        "certificates": len({c.sha256 for c in ev.certificates}),
    }
