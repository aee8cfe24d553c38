"""The PKCS#11 key backend against SoftHSM2: signatures that verify like file-key ones (openssl too),
certificates on the token, the whole PKI with its keys on a token, and what pyhanko needs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pydantic import SecretStr

from core.errors import ConfigError, KeyStoreError
from core.keys import FileKeyStore, open_keystore
from core.keys.pkcs11_backend import Pkcs11KeyStore, Pkcs11Signer
from core.timestamp import TimestampClient
from licenses.pki import Pki
from tests.pki.conftest import SoftHsmToken, make_settings

Openssl = Callable[..., CompletedProcess[str]]
DATA = "电子证照 签章测试 1.2.156.3005.2.11510129008589710X001".encode()


def _openssl_verifies(
    openssl: Openssl, folder: Path, public_key: ec.EllipticCurvePublicKey, sig: bytes, tag: str
) -> bool:
    pub, sig_file, data = folder / f"{tag}.pub.pem", folder / f"{tag}.sig.der", folder / f"{tag}.data"
    pub.write_bytes(
        public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    sig_file.write_bytes(sig)
    data.write_bytes(DATA)
    done = openssl("dgst", "-sha256", "-verify", pub, "-signature", sig_file, data)
    return done.returncode == 0 and "Verified OK" in done.stdout


def _store(token: SoftHsmToken) -> Pkcs11KeyStore:
    return Pkcs11KeyStore(token.module, token.label, token.pin)


@pytest.mark.tools
def test_a_softhsm_signature_verifies_like_a_file_key_signature(
    softhsm_token: SoftHsmToken, openssl: Openssl, tmp_path: Path
) -> None:
    files = FileKeyStore(tmp_path / "keys", b"passphrase")
    token = _store(softhsm_token)
    file_signer = files.create_signing_key("seal.dayi-scjg.1")
    hsm_signer = token.create_signing_key("seal.dayi-scjg.1")
    assert isinstance(hsm_signer, Pkcs11Signer)
    assert token.has_key("seal.dayi-scjg.1") and token.list_keys() == ["seal.dayi-scjg.1"]

    for signer, tag in ((file_signer, "file"), (hsm_signer, "hsm")):
        signature = signer.sign(DATA)
        r, s = decode_dss_signature(signature)  # DER, as the file backend's
        assert r > 0 and s > 0
        signer.public_key().verify(signature, DATA, ec.ECDSA(hashes.SHA256()))
        assert _openssl_verifies(openssl, tmp_path, signer.public_key(), signature, tag)
        assert not _openssl_verifies(
            # the last byte flipped (replacing it with 0 left it unchanged when it already was 0)
            openssl,
            tmp_path,
            signer.public_key(),
            signature[:-1] + bytes([signature[-1] ^ 1]),
            tag + "-bad",
        )
    other = file_signer.public_key()
    assert not _openssl_verifies(openssl, tmp_path, other, hsm_signer.sign(DATA), "cross")

    # the key never leaves the token
    import pkcs11

    private = token.session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label="seal.dayi-scjg.1")
    assert private[pkcs11.Attribute.SENSITIVE] and not private[pkcs11.Attribute.EXTRACTABLE]
    with pytest.raises(KeyStoreError, match="already exists"):
        token.create_signing_key("seal.dayi-scjg.1")
    assert token.create_signing_key("seal.dayi-scjg.1", exist_ok=True).public_key() == hsm_signer.public_key()
    with pytest.raises(KeyStoreError, match="not found"):
        token.signer("nothing")

    # a key made elsewhere can be put on the token (an imported CA key)
    outside = ec.generate_private_key(ec.SECP256R1())
    imported = token.import_signing_key("pki.issuing-ca", outside)
    outside.public_key().verify(imported.sign(DATA), DATA, ec.ECDSA(hashes.SHA256()))
    assert imported.public_key() == outside.public_key()
    token.close()


def test_certificates_live_on_the_token_and_settings_choose_the_backend(
    softhsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path / "var",
        keys={
            "backend": "pkcs11",
            "pkcs11_module": softhsm_token.module,
            "pkcs11_token_label": softhsm_token.label,
            "pkcs11_pin": softhsm_token.pin,
        },
    )
    store = open_keystore(settings, create=True)
    assert isinstance(store, Pkcs11KeyStore)
    signer = store.create_signing_key("platform")
    assert store.certificate("platform") is None
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "平台（样例 TEST）")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(issuer_key, hashes.SHA256())
    )
    store.store_certificate("platform", cert)
    store.store_certificate("platform", cert)  # replaces, does not pile up
    assert store.certificate("platform") == cert
    reopened = open_keystore(settings)
    assert isinstance(reopened, Pkcs11KeyStore) and reopened.certificate("platform") == cert
    # access-token and data keys stay in the file store beside the token
    kid = reopened.rotate_token_key()
    assert reopened.current_token_kid() == kid and (settings.keys_folder / "signing").is_dir()
    assert reopened.datakeys.current("store").key

    with pytest.raises(ConfigError, match="TONGBAN_KEYS__PKCS11_PIN"):
        open_keystore(
            settings.model_copy(update={"keys": settings.keys.model_copy(update={"pkcs11_pin": None})})
        )
    wrong_label = settings.keys.model_copy(update={"pkcs11_token_label": "no-such-token"})
    with pytest.raises(ConfigError, match="softhsm2-util --init-token"):
        open_keystore(settings.model_copy(update={"keys": wrong_label}))
    wrong_pin = settings.keys.model_copy(update={"pkcs11_pin": SecretStr("0000")})
    with pytest.raises(KeyStoreError, match="wrong PIN"):
        open_keystore(settings.model_copy(update={"keys": wrong_pin}))


@pytest.mark.tools
def test_the_whole_pki_with_its_keys_on_the_token(
    softhsm_token: SoftHsmToken, openssl: Openssl, tmp_path: Path, make_pki: Callable[..., Pki]
) -> None:
    pki = make_pki(
        init=False,
        keys={
            "backend": "pkcs11",
            "pkcs11_module": softhsm_token.module,
            "pkcs11_token_label": softhsm_token.label,
            "pkcs11_pin": softhsm_token.pin,
        },
    )
    settings = pki.settings
    store = pki.keystore
    assert isinstance(store, Pkcs11KeyStore)
    store.create_signing_key("platform")
    pki.init()
    keys = store.list_keys()
    assert {"pki.root-ca", "pki.issuing-ca", "pki.tsa", "platform", "seal.dayi-scjg.1"} <= set(keys)
    assert not list((settings.keys_folder / "signing").glob("pki.*"))  # no CA key in files
    seal = pki.seal("dayi-scjg")
    assert store.certificate(seal.key_name) == seal.certificate  # the certificate is on the token
    rotated = pki.rotate_seal("dayi-scjg")
    assert store.certificate("seal.dayi-scjg.2") == rotated.certificate
    pki.revoke(seal.serial, "superseded")  # the CRL is signed on the token too
    trust = tmp_path / "trust"
    pki.export_trust(trust)
    certs = tmp_path / "certs.pem"
    certs.write_bytes(rotated.certificate.public_bytes(serialization.Encoding.PEM))
    done = openssl(
        "verify", "-crl_check_all", "-CAfile", trust / "root.pem", "-untrusted", trust / "issuing.pem",
        "-CRLfile", trust / "issuing.crl.pem", "-CRLfile", trust / "root.crl.pem", certs,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    crl_ok = openssl("crl", "-in", trust / "issuing.crl.pem", "-CAfile", trust / "trust-bundle.pem", "-noout")
    assert "verify OK" in crl_ok.stdout + crl_ok.stderr

    token = TimestampClient(responder=pki.tsa()).stamp(DATA)
    (tmp_path / "data.bin").write_bytes(DATA)
    (tmp_path / "token.der").write_bytes(token.der)
    done = openssl(
        "ts", "-verify", "-data", tmp_path / "data.bin", "-in", tmp_path / "token.der", "-token_in",
        "-CAfile", trust / "root.pem", "-untrusted", trust / "issuing.pem",
    )  # fmt: skip
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr


def test_pyhanko_signs_through_the_token_with_the_raw_mechanism(softhsm_token: SoftHsmToken) -> None:
    from pyhanko.sign.pkcs11 import PKCS11Signer

    store = _store(softhsm_token)
    signer = store.create_signing_key("seal.dayi-scjg.1")
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "大邑县市场监督管理局（样例 TEST）")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    store.store_certificate("seal.dayi-scjg.1", cert)
    params = store.pyhanko_params("seal.dayi-scjg.1")
    assert (params.token_label, params.key_label, params.cert_label) == (
        softhsm_token.label,
        "seal.dayi-scjg.1",
        "seal.dayi-scjg.1",
    )
    assert softhsm_token.pin not in repr(params)
    with store.lock:
        hanko = PKCS11Signer(
            store.session, cert_label=params.cert_label, key_label=params.key_label, use_raw_mechanism=True
        )
        raw = asyncio.run(hanko.async_sign_raw(DATA, "sha256"))
    signer.public_key().verify(raw, DATA, ec.ECDSA(hashes.SHA256()))
