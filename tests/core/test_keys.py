"""The file key store: encrypted keys, passphrases, data keys, token keys, JWS."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core import jws
from core.errors import ConfigError, KeyStoreError
from core.keys import FileKeyStore, open_keystore, resolve_passphrase
from core.logging import configure_logging
from core.settings import Settings


def test_signing_key_roundtrip_and_signature(tmp_path: Path) -> None:
    ks = FileKeyStore(tmp_path, b"pass-1")
    signer = ks.create_signing_key("platform")
    sig = signer.sign(b"hello")
    again = FileKeyStore(tmp_path, b"pass-1").signer("platform")
    again.public_key().verify(sig, b"hello", ec.ECDSA(hashes.SHA256()))
    assert ks.list_keys() == ["platform"]
    assert "PRIVATE" not in repr(signer) and "PRIVATE" not in repr(ks)


def test_key_file_is_encrypted_and_private(tmp_path: Path) -> None:
    ks = FileKeyStore(tmp_path, b"pass-1")
    ks.create_signing_key("seal.dept1")
    path = tmp_path / "signing" / "seal.dept1.key.pem"
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(path.read_bytes(), password=None)


def test_wrong_passphrase_is_a_clear_error_without_key_material(tmp_path: Path) -> None:
    FileKeyStore(tmp_path, b"right").create_signing_key("platform")
    with pytest.raises(KeyStoreError) as err:
        FileKeyStore(tmp_path, b"wrong").signer("platform")
    assert err.value.code == "KEY_LOCKED"
    assert "passphrase" in str(err.value) and "BEGIN" not in str(err.value)


def test_missing_key_and_bad_name(tmp_path: Path) -> None:
    ks = FileKeyStore(tmp_path, b"p")
    with pytest.raises(KeyStoreError, match="tongban init"):
        ks.signer("platform")
    with pytest.raises(KeyStoreError, match="invalid key name"):
        ks.create_signing_key("../escape")


def test_data_keys_rotate_and_old_ones_stay_readable(tmp_path: Path) -> None:
    ks = FileKeyStore(tmp_path, b"p")
    first = ks.datakeys.current("store")
    second = ks.datakeys.rotate("store")
    assert first.key_id != second.key_id and first.key != second.key
    reopened = FileKeyStore(tmp_path, b"p").datakeys
    assert reopened.current("store").key_id == second.key_id
    assert reopened.get(first.key_id).key == first.key
    assert len(first.key) == 32
    with pytest.raises(KeyStoreError):
        FileKeyStore(tmp_path, b"other").datakeys.get(first.key_id)


def _first_use(folder: str) -> str:
    """One process's first use of a fresh key store: the current data key of a purpose, in hex."""
    return FileKeyStore(Path(folder), b"p").datakeys.current("use-pseudonym").key.hex()


def test_processes_starting_together_agree_on_the_keys(tmp_path: Path) -> None:
    """API workers start at the same moment on a fresh key store: they must make one key-encryption
    key and one data key between them (two KEKs made a worker fail with DATA_KEY_UNWRAP)."""
    import multiprocessing

    for attempt in range(3):
        folder = tmp_path / f"keys-{attempt}"
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            keys = pool.map(_first_use, [str(folder)] * 8)
        assert len(set(keys)) == 1
        assert FileKeyStore(folder, b"p").datakeys.current("use-pseudonym").key.hex() == keys[0]


def test_token_keys_rotate_with_kid(tmp_path: Path) -> None:
    ks = FileKeyStore(tmp_path, b"p")
    kid1, signer1 = ks.token_signer()
    kid2 = ks.rotate_token_key()
    assert kid1 != kid2 and ks.current_token_kid() == kid2
    assert set(ks.token_public_keys()) == {kid1, kid2}
    token = jws.sign_compact(signer1, {"sub": "dept"}, kid=kid1)
    assert jws.read_header(token)["kid"] == kid1
    assert jws.verify_compact(token, ks.token_public_keys()[kid1]) == {"sub": "dept"}


def test_jws_rejects_tampering_and_foreign_keys(tmp_path: Path) -> None:
    ks = FileKeyStore(tmp_path, b"p")
    signer = ks.create_signing_key("platform")
    token = jws.sign_compact(signer, {"batch": "abc", "rows": 3}, kid="platform", typ="JWS")
    head, _body, sig = token.split(".")
    forged = jws.b64url(b'{"batch":"abc","rows":4}')
    with pytest.raises(jws.JwsError):
        jws.verify_compact(f"{head}.{forged}.{sig}", signer.public_key())
    with pytest.raises(jws.JwsError):
        jws.verify_compact(token, ec.generate_private_key(ec.SECP256R1()).public_key())


def test_passphrase_resolution(settings: Settings, tmp_path: Path) -> None:
    bare = Settings(data_dir=tmp_path / "v2")
    with pytest.raises(ConfigError, match="TONGBAN_KEYS__PASSPHRASE"):
        resolve_passphrase(bare)
    made = resolve_passphrase(bare, create=True)
    assert bare.passphrase_path.stat().st_mode & 0o077 == 0
    assert resolve_passphrase(bare) == made
    assert isinstance(open_keystore(settings), FileKeyStore)


def test_logs_never_show_private_keys_or_full_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_format=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    log = logging.getLogger("tongban.test")
    log.info("loaded %s for 510129199001011238", pem, extra={"holder": "11010519491231002X"})
    err = capsys.readouterr().err
    assert "PRIVATE KEY" not in err.replace("[private key redacted]", "")
    assert "510129199001011238" not in err and "11010519491231002X" not in err
    assert "5101**********1238" in err and "1101**********002X" in err
