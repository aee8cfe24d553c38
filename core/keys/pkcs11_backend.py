"""The PKCS#11 key backend: ECDSA P-256 signing keys generated and kept on a token (SoftHSM2, an HSM).

Keys never leave the token (``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``). Each signing key is a
private/public key pair whose ``CKA_LABEL`` is the key name and whose ``CKA_ID`` is derived from
it (first 16 bytes of SHA-256 of the name); the certificate, once the PKI issued one, is stored on
the token as an X.509 certificate object with the same label and id, which is what PKCS#11
tools and pyhanko look for.

Signing: many tokens (SoftHSM2 among them) offer only the raw ``CKM_ECDSA`` mechanism, so the
SHA-256 digest is computed here, the token signs it, and the raw ``r || s`` is converted to
DER. PKCS#11 login is per process and token, so all stores on one token in a process share one
logged-in session, used under one lock (sessions are not for concurrent use); after a fork, open
the store again in the child.

Access-token keys and data-encryption keys are not legal seals: they stay in the file backend
(a :class:`~core.keys.file_backend.FileKeyStore` beside this one), so this store delegates
``datakeys`` and the ``token_*`` methods to it.

For pyhanko's own ``PKCS11Signer``: pass :attr:`Pkcs11KeyStore.session` (under
:attr:`Pkcs11KeyStore.lock`) with the labels from :meth:`Pkcs11KeyStore.pyhanko_params` and
``use_raw_mechanism=True`` — required with SoftHSM2, whose ECDSA is raw only. Do not let pyhanko
open a second logged-in session in the same process (``UserAlreadyLoggedIn``). Or wrap
:meth:`Pkcs11KeyStore.signer` (a :class:`~core.keys.base.Signer`) in a pyhanko ``Signer``.

SoftHSM2 needs ``SOFTHSM2_CONF`` pointing at a config whose ``tokendir`` the process owns, and an
initialised token: ``softhsm2-util --init-token --free --label L --so-pin S --pin P``.

Why one module of this length: every operation goes through one token session protocol (login once
per process, one lock, re-open after fork), which must be read whole.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from core.errors import ConfigError, KeyStoreError
from core.keys.base import InMemorySigner, check_key_name

if TYPE_CHECKING:
    from core.keys.datakeys import DataKeyring
    from core.keys.file_backend import FileKeyStore


@dataclass(frozen=True)
class Pkcs11Params:
    """What a library of its own (pyhanko ``PKCS11Signer``) needs to sign with a key on the token."""

    module: str
    token_label: str
    user_pin: str = field(repr=False)
    key_label: str
    cert_label: str
    key_id: bytes


def _key_id(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()[:16]


class Pkcs11Signer:
    """A :class:`~core.keys.base.Signer` whose private key stays on the token."""

    def __init__(
        self, store: Pkcs11KeyStore, name: str, private_key: Any, public_key: ec.EllipticCurvePublicKey
    ):
        self._store = store
        self._name = name
        self._private = private_key
        self._public = public_key

    @property
    def name(self) -> str:
        return self._name

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA-SHA256 over ``data``: SHA-256 here, raw CKM_ECDSA on the token."""
        import pkcs11

        digest = hashlib.sha256(data).digest()
        try:
            with self._store._lock:
                raw = self._private.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
        except pkcs11.PKCS11Error as exc:
            raise KeyStoreError(
                f"the token refused to sign with key {self._name!r}: {type(exc).__name__}", code="PKCS11_SIGN"
            ) from exc
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def __repr__(self) -> str:
        return f"<Pkcs11Signer {self._name!r} P-256 on token {self._store.token_label!r}>"


@dataclass
class _SharedSession:
    session: Any
    lock: threading.RLock
    pin_digest: bytes
    users: int


# PKCS#11 login is per process and token: a second C_Login fails (UserAlreadyLoggedIn), so every
# store on one token in this process shares one logged-in session and one lock.
_SESSIONS: dict[tuple[str, str], _SharedSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _open_shared(module: str, token_label: str, pin: str) -> _SharedSession:
    import pkcs11

    digest = hashlib.sha256(pin.encode()).digest()
    with _SESSIONS_LOCK:
        shared = _SESSIONS.get((module, token_label))
        if shared is not None:
            if not hmac.compare_digest(shared.pin_digest, digest):
                raise KeyStoreError(f"wrong PIN for token {token_label!r}", code="PKCS11_PIN")
            shared.users += 1
            return shared
        try:
            lib = pkcs11.lib(module)
        except Exception as exc:
            raise ConfigError(
                f"cannot load the PKCS#11 module {module}: {exc} (install softhsm2, or set "
                "TONGBAN_KEYS__PKCS11_MODULE)",
                code="PKCS11_MODULE",
            ) from exc
        try:
            token = lib.get_token(token_label=token_label)
        except pkcs11.NoSuchToken as exc:
            raise ConfigError(
                f"no PKCS#11 token labelled {token_label!r} in {module} (SOFTHSM2_CONF?); create one with "
                f"`softhsm2-util --init-token --free --label {token_label} --so-pin … --pin …`",
                code="PKCS11_TOKEN",
            ) from exc
        except pkcs11.MultipleTokensReturned as exc:
            raise ConfigError(
                f"several PKCS#11 tokens are labelled {token_label!r}", code="PKCS11_TOKEN"
            ) from exc
        try:
            session = token.open(user_pin=pin, rw=True)
        except pkcs11.PinIncorrect as exc:
            raise KeyStoreError(f"wrong PIN for token {token_label!r}", code="PKCS11_PIN") from exc
        except pkcs11.UserAlreadyLoggedIn:
            session = token.open(rw=True)  # another library in this process logged in: share its login
        except pkcs11.PKCS11Error as exc:
            raise KeyStoreError(
                f"cannot open a session on token {token_label!r}: {type(exc).__name__}", code="PKCS11_SESSION"
            ) from exc
        shared = _SharedSession(session, threading.RLock(), digest, 1)
        _SESSIONS[(module, token_label)] = shared
        return shared


class Pkcs11KeyStore:
    """Signing keys on a PKCS#11 token selected by label; token and data keys via a file store."""

    def __init__(
        self,
        module: str,
        token_label: str,
        pin: str,
        *,
        files: Callable[[], FileKeyStore] | None = None,
    ) -> None:
        if not pin:
            raise ConfigError(
                "the PKCS#11 user PIN is empty: set TONGBAN_KEYS__PKCS11_PIN", code="PKCS11_PIN"
            )
        self.module = module
        self.token_label = token_label
        self._pin = pin
        self._files_factory = files
        self._files: FileKeyStore | None = None
        self._signers: dict[str, Pkcs11Signer] = {}
        self._shared: _SharedSession | None = _open_shared(module, token_label, pin)
        self._session = self._shared.session
        self._lock = self._shared.lock

    def __repr__(self) -> str:
        return f"<Pkcs11KeyStore token={self.token_label!r} module={self.module}>"

    def close(self) -> None:
        """Release this store's use of the shared session (closed, and logged out, with the last one)."""
        with _SESSIONS_LOCK:
            shared, self._shared = self._shared, None
            if shared is None:
                return
            shared.users -= 1
            if shared.users == 0:
                _SESSIONS.pop((self.module, self.token_label), None)
                with shared.lock:
                    shared.session.close()

    @property
    def session(self) -> Any:
        """The logged-in ``pkcs11.Session`` this process shares for the token; use it under :attr:`lock`.

        Give it to pyhanko's ``PKCS11Signer`` rather than opening a second logged-in session.
        """
        return self._session

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # -- signing keys -------------------------------------------------------------------------
    def _find(self, object_class: Any, name: str) -> list[Any]:
        import pkcs11

        with self._lock:
            return list(
                self._session.get_objects(
                    {pkcs11.Attribute.CLASS: object_class, pkcs11.Attribute.LABEL: name}
                )
            )

    def has_key(self, name: str) -> bool:
        import pkcs11

        return bool(self._find(pkcs11.ObjectClass.PRIVATE_KEY, name))

    def list_keys(self) -> list[str]:
        import pkcs11

        with self._lock:
            objs = list(self._session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY}))
            return sorted({str(o[pkcs11.Attribute.LABEL]) for o in objs})

    def create_signing_key(self, name: str, *, exist_ok: bool = False) -> Pkcs11Signer:
        import pkcs11
        from pkcs11.util.ec import encode_named_curve_parameters

        check_key_name(name)
        with self._lock:
            if self.has_key(name):
                if exist_ok:
                    return self.signer(name)
                raise KeyStoreError(f"key {name!r} already exists on the token", code="KEY_EXISTS")
            params = self._session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            try:
                params.generate_keypair(
                    store=True,
                    label=name,
                    id=_key_id(name),
                    capabilities=pkcs11.MechanismFlag.SIGN | pkcs11.MechanismFlag.VERIFY,
                    private_template={
                        pkcs11.Attribute.SENSITIVE: True,
                        pkcs11.Attribute.EXTRACTABLE: False,
                        pkcs11.Attribute.PRIVATE: True,
                    },
                )
            except pkcs11.PKCS11Error as exc:
                raise KeyStoreError(
                    f"the token could not generate key {name!r}: {type(exc).__name__}", code="PKCS11_KEYGEN"
                ) from exc
            return self.signer(name)

    def import_signing_key(self, name: str, key: ec.EllipticCurvePrivateKey) -> Pkcs11Signer:
        """Put an existing P-256 key on the token (e.g. an issuing CA key made elsewhere)."""
        import pkcs11
        from pkcs11.util.ec import encode_named_curve_parameters

        check_key_name(name)
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyStoreError(f"key {name!r} is not a P-256 key", code="KEY_TYPE")
        with self._lock:
            if self.has_key(name):
                raise KeyStoreError(f"key {name!r} already exists on the token", code="KEY_EXISTS")
            ec_params = encode_named_curve_parameters("secp256r1")
            point = key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            common = {
                pkcs11.Attribute.TOKEN: True,
                pkcs11.Attribute.LABEL: name,
                pkcs11.Attribute.ID: _key_id(name),
            }
            try:
                self._session.create_object(
                    {
                        **common,
                        pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
                        pkcs11.Attribute.KEY_TYPE: pkcs11.KeyType.EC,
                        pkcs11.Attribute.EC_PARAMS: ec_params,
                        pkcs11.Attribute.VALUE: key.private_numbers().private_value.to_bytes(32, "big"),
                        pkcs11.Attribute.SIGN: True,
                        pkcs11.Attribute.SENSITIVE: True,
                        pkcs11.Attribute.EXTRACTABLE: False,
                        pkcs11.Attribute.PRIVATE: True,
                    }
                )
                self._session.create_object(
                    {
                        **common,
                        pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PUBLIC_KEY,
                        pkcs11.Attribute.KEY_TYPE: pkcs11.KeyType.EC,
                        pkcs11.Attribute.EC_PARAMS: ec_params,
                        pkcs11.Attribute.EC_POINT: bytes([0x04, len(point)]) + point,  # DER OCTET STRING
                        pkcs11.Attribute.VERIFY: True,
                    }
                )
            except pkcs11.PKCS11Error as exc:
                raise KeyStoreError(
                    f"the token refused to import key {name!r}: {type(exc).__name__}", code="PKCS11_IMPORT"
                ) from exc
            self._signers.pop(name, None)
            return self.signer(name)

    def signer(self, name: str) -> Pkcs11Signer:
        import pkcs11

        if name in self._signers:
            return self._signers[name]
        private = self._find(pkcs11.ObjectClass.PRIVATE_KEY, name)
        if not private:
            raise KeyStoreError(
                f"signing key {name!r} not found on token {self.token_label!r}; run `tongban init`",
                code="KEY_MISSING",
            )
        signer = Pkcs11Signer(self, name, private[0], self.public_key(name))
        self._signers[name] = signer
        return signer

    def public_key(self, name: str) -> ec.EllipticCurvePublicKey:
        import pkcs11
        from pkcs11.util.ec import encode_ec_public_key

        public = self._find(pkcs11.ObjectClass.PUBLIC_KEY, name)
        if not public:
            raise KeyStoreError(
                f"public key {name!r} not found on token {self.token_label!r}", code="KEY_MISSING"
            )
        with self._lock:
            der = encode_ec_public_key(public[0])
        key = serialization.load_der_public_key(der)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise KeyStoreError(f"key {name!r} is not an EC key", code="KEY_TYPE")
        return key

    def certificate(self, name: str) -> x509.Certificate | None:
        import pkcs11

        certs = self._find(pkcs11.ObjectClass.CERTIFICATE, name)
        if not certs:
            return None
        with self._lock:
            return x509.load_der_x509_certificate(bytes(certs[0][pkcs11.Attribute.VALUE]))

    def store_certificate(self, name: str, cert: x509.Certificate) -> None:
        """Store (or replace) the certificate of key ``name`` on the token, same label and id."""
        import pkcs11
        from asn1crypto import core as asn1core

        with self._lock:
            for old in self._find(pkcs11.ObjectClass.CERTIFICATE, name):
                old.destroy()
            self._session.create_object(
                {
                    pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE,
                    pkcs11.Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                    pkcs11.Attribute.TOKEN: True,
                    pkcs11.Attribute.PRIVATE: False,
                    pkcs11.Attribute.LABEL: name,
                    pkcs11.Attribute.ID: _key_id(name),
                    pkcs11.Attribute.SUBJECT: cert.subject.public_bytes(),
                    pkcs11.Attribute.ISSUER: cert.issuer.public_bytes(),
                    pkcs11.Attribute.SERIAL_NUMBER: asn1core.Integer(cert.serial_number).dump(),
                    pkcs11.Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
                }
            )

    def pyhanko_params(self, name: str) -> Pkcs11Params:
        """Module, token, PIN and labels for pyhanko's ``PKCS11Signer`` (``use_raw_mechanism=True``)."""
        if not self.has_key(name):
            raise KeyStoreError(
                f"signing key {name!r} not found on token {self.token_label!r}", code="KEY_MISSING"
            )
        return Pkcs11Params(self.module, self.token_label, self._pin, name, name, _key_id(name))

    # -- access-token keys and data keys: the file store beside the token ----------------------
    def _file_store(self) -> FileKeyStore:
        if self._files is None:
            if self._files_factory is None:
                raise ConfigError(
                    "access-token and data-encryption keys live in the file store, which this PKCS#11 "
                    "store was opened without (set TONGBAN_KEYS__PASSPHRASE)",
                    code="KEYSTORE_PASSPHRASE",
                )
            self._files = self._files_factory()
        return self._files

    @property
    def datakeys(self) -> DataKeyring:
        return self._file_store().datakeys

    def current_token_kid(self) -> str | None:
        return self._file_store().current_token_kid()

    def rotate_token_key(self) -> str:
        return self._file_store().rotate_token_key()

    def token_signer(self) -> tuple[str, InMemorySigner]:
        return self._file_store().token_signer()

    def token_public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        return self._file_store().token_public_keys()
