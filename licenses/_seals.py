"""Where the signing material comes from: department seals, trust, the timestamp authority.

:class:`SealProvider` is what the issuing pipeline needs from a PKI: for an issuing department
(by its USCC) the seal key (a :class:`core.keys.Signer`, file or PKCS#11), its certificate and
chain; the trust (roots, intermediates, current CRLs) a verifier uses; and a pyhanko timestamper.
``licenses.pki`` implements it for production (:mod:`licenses._pki_seals`); tests may build their
own. Timestampers: :class:`ResponderTimeStamper` calls an in-process RFC 3161 responder
(``bytes -> bytes``, e.g. ``licenses.pki.tsa.TimestampAuthority``); over HTTP pyhanko's
``HTTPTimeStamper`` is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509

from core.keys import Signer
from licenses._pades import Trust


@dataclass(frozen=True)
class Seal:
    """One department's seal: key, certificate, chain (issuing CA first), names for the face."""

    issuer_code: str  # USCC of the department (ZZBFJGDM)
    department_name: str  # 大邑县市场监督管理局 (ZZBFJG)
    seal_name: str  # ZZQZMC: 大邑县市场监督管理局电子证照专用章
    key: Signer
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate]
    sample: bool = True  # draw 样例 on the seal while keys are samples


class SealProvider(Protocol):
    def seal(self, issuer_code: str) -> Seal: ...

    def trust(self) -> Trust: ...

    def timestamper(self) -> Any: ...  # a pyhanko TimeStamper, or None (B-B only)


def _timestamper_base() -> type:
    from pyhanko.sign.timestamps.api import TimeStamper

    base: type = TimeStamper
    return base


class ResponderTimeStamper(_timestamper_base()):  # type: ignore[misc]
    """A pyhanko TimeStamper over an in-process RFC 3161 responder (DER request -> DER response)."""

    def __init__(self, responder: Callable[[bytes], bytes]) -> None:
        super().__init__(include_nonce=True)
        self._responder = responder

    async def async_request_tsa_response(self, req: Any) -> Any:
        from asn1crypto import tsp

        return tsp.TimeStampResp.load(self._responder(req.dump()))


def http_timestamper(url: str) -> Any:
    from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper

    return HTTPTimeStamper(url)
