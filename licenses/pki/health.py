"""The PKI check of ``tongban doctor``: CA present, chain intact, CRL current, TSA answering, seals usable."""

from __future__ import annotations

from datetime import timedelta

from core.errors import CoreError
from core.health import Check
from core.settings import Settings
from core.timestamp import TimestampClient
from licenses.errors import LicenseError
from licenses.pki.authority import Pki

EXPIRY_WARNING = timedelta(days=30)


def check_pki(settings: Settings) -> Check:
    """One line: ok when every certificate needed to issue licenses is usable now."""
    try:
        with Pki(settings) as pki:
            return _check(pki)
    except (CoreError, LicenseError) as exc:
        return Check("pki", False, f"{exc} [{exc.code}]")
    except Exception as exc:
        return Check("pki", False, f"{type(exc).__name__}: {exc}")


def _check(pki: Pki) -> Check:
    now = pki.now()
    problems: list[str] = []
    root, issuing = pki.root_certificate(), pki.issuing_certificate()
    issuing.verify_directly_issued_by(root)
    crl = pki.crl("issuing")
    if crl.next_update <= now:
        problems.append(f"CRL #{crl.number} expired {crl.next_update:%Y-%m-%d} (issuing CA key not here?)")
    token = TimestampClient(responder=pki.tsa()).stamp(b"tongban doctor")
    if token.tsa_certificate is None:
        problems.append("the TSA token carries no certificate")
    pki.platform_seal().signer.sign(b"doctor")
    soon = []
    for dept in pki.departments:
        try:
            material = pki.seal(dept.code)
        except (CoreError, LicenseError) as exc:
            problems.append(f"{dept.code}: {exc}")
            continue
        if material.certificate.not_valid_after_utc - now < EXPIRY_WARNING:
            soon.append(dept.code)
    if soon:
        problems.append(f"seals expiring within 30 days: {', '.join(soon)} (`tongban pki rotate-seal`)")
    if problems:
        return Check("pki", False, "; ".join(problems))
    kind = "sample (样例) CA" if pki.is_sample() else "imported CA"
    return Check(
        "pki",
        True,
        f"{kind}, {len(pki.departments)} seals, CRL #{crl.number} until {crl.next_update:%Y-%m-%d}, "
        f"TSA token at {token.gen_time:%H:%M:%S}Z",
    )
