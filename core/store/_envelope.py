"""Encryption at rest for citizen-data zones: an envelope of authenticated chunks, and addressing.

Stored layout of an encrypted object (format ``tbse1-a256gcm``)::

    header  = "TBSE" | version (1 byte, = 1) | chunk_size (u32 BE) | len(key_id) (1 byte) | key_id | salt (32)
    chunk_i = AES-256-GCM(k_obj, nonce_i, plaintext_i, aad=header)      (plaintext_i + 16-byte tag)

* ``k_obj = HKDF-SHA256(data key, salt, info="tongban/store/v1/" + zone)``: a fresh key per object
  (random salt), so nonces never repeat across objects and an object moved to another zone fails.
* ``nonce_i = i (11 bytes BE) | final flag (1 byte)`` — the STREAM construction: a reordered chunk
  fails (index), a truncated object fails (its last remaining chunk was not sealed as final), an
  appended chunk fails (the real final chunk is no longer last), a chunk spliced in from another
  object fails (other key), a changed header fails (it is the AAD of every chunk).
* Every chunk but the last holds exactly ``chunk_size`` plaintext bytes; the last holds 0..chunk_size
  (an empty object is one empty final chunk).

The data key comes from the key store's ``store`` purpose and is named in the header, so keys
rotate without rewriting old objects: readers fetch the old key by id.

Addresses: public zones use SHA-256 of the plaintext; citizen-data zones an HMAC-SHA256 of the
plaintext under the ``store-address`` data key (a plain hash would let anyone who can list the
store confirm a guessed record). The address key must stay stable for put to stay idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import IntegrityError

MAGIC = b"TBSE"
ENVELOPE_VERSION = 1
SALT_LEN = 32
TAG_LEN = 16
MIN_CHUNK = 1024
MAX_CHUNK = 64 * 1024 * 1024
DATA_KEY_PURPOSE = "store"
ADDRESS_KEY_PURPOSE = "store-address"


@dataclass(frozen=True)
class Header:
    version: int
    chunk_size: int
    key_id: str
    salt: bytes
    raw: bytes


def build_header(chunk_size: int, key_id: str, salt: bytes) -> bytes:
    kid = key_id.encode("ascii")
    if not 0 < len(kid) < 256:
        raise ValueError("data key id must be 1..255 ASCII characters")
    return MAGIC + bytes([ENVELOPE_VERSION]) + chunk_size.to_bytes(4, "big") + bytes([len(kid)]) + kid + salt


def object_key(data_key: bytes, salt: bytes, zone: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"tongban/store/v1/" + zone.encode())
    return AESGCM(hkdf.derive(data_key))


def nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def check_chunk_size(chunk_size: int) -> int:
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk size must be between {MIN_CHUNK} and {MAX_CHUNK} bytes, not {chunk_size}")
    return chunk_size


class Address:
    """The running address of a plaintext: SHA-256, or HMAC-SHA256 under an address key."""

    def __init__(self, hmac_key: bytes | None) -> None:
        self._h: hmac.HMAC | hashlib._Hash = (
            hashlib.sha256() if hmac_key is None else hmac.new(hmac_key, digestmod=hashlib.sha256)
        )

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def address_of(data: bytes, hmac_key: bytes | None) -> str:
    a = Address(hmac_key)
    a.update(data)
    return a.hexdigest()


class Encryptor:
    """Seals plaintext chunks of one object; call :meth:`seal` with ``final=True`` exactly once, last."""

    def __init__(self, zone: str, key_id: str, data_key: bytes, chunk_size: int) -> None:
        self.chunk_size = check_chunk_size(chunk_size)
        salt = os.urandom(SALT_LEN)
        self.header = build_header(chunk_size, key_id, salt)
        self._aead = object_key(data_key, salt, zone)
        self._index = 0
        self._done = False

    def seal(self, plaintext: bytes, *, final: bool) -> bytes:
        if self._done:
            raise RuntimeError("the final chunk was already sealed")
        if len(plaintext) > self.chunk_size or (not final and len(plaintext) != self.chunk_size):
            raise ValueError("non-final chunks must be exactly chunk_size bytes")
        out = self._aead.encrypt(nonce(self._index, final), plaintext, self.header)
        self._index += 1
        self._done = final
        return out


class ExactReader:
    """Reads exact byte counts from an iterator of blocks of any size (bounded buffer)."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._it = iter(blocks)
        self._buf = bytearray()
        self._eof = False

    def read_exact(self, n: int) -> bytes:
        """``n`` bytes, or fewer only at the end of the stream."""
        while len(self._buf) < n and not self._eof:
            try:
                block = next(self._it)
            except StopIteration:
                self._eof = True
                break
            self._buf += block
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


def read_header(reader: ExactReader, where: str) -> Header:
    def bad(reason: str) -> IntegrityError:
        return IntegrityError(f"object {where}: envelope header {reason}; the stored bytes are damaged")

    fixed = reader.read_exact(10)
    if len(fixed) < 10 or fixed[:4] != MAGIC:
        raise bad("is missing or has the wrong magic")
    version = fixed[4]
    if version != ENVELOPE_VERSION:
        raise bad(f"has unknown version {version}")
    chunk_size = int.from_bytes(fixed[5:9], "big")
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise bad(f"has an impossible chunk size {chunk_size}")
    kid_len = fixed[9]
    rest = reader.read_exact(kid_len + SALT_LEN)
    if len(rest) != kid_len + SALT_LEN or kid_len == 0:
        raise bad("is truncated")
    try:
        key_id = rest[:kid_len].decode("ascii")
    except UnicodeDecodeError:
        raise bad("has a non-ASCII key id") from None
    return Header(version, chunk_size, key_id, rest[kid_len:], fixed + rest)


def open_chunks(
    reader: ExactReader, header: Header, data_key: bytes, zone: str, where: str
) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(plaintext, final)`` per chunk; raise :class:`IntegrityError` at the first bad chunk.

    One ciphertext chunk is read ahead to learn whether the current one is the last.
    """
    aead = object_key(data_key, header.salt, zone)
    size = header.chunk_size + TAG_LEN
    current = reader.read_exact(size)
    if len(current) < TAG_LEN:
        raise IntegrityError(f"object {where}: no complete chunk after the header (truncated)")
    index = 0
    while True:
        following = reader.read_exact(size)
        final = not following
        try:
            plaintext = aead.decrypt(nonce(index, final), current, header.raw)
        except InvalidTag:
            raise IntegrityError(
                f"object {where}: chunk {index} failed authentication — the stored bytes were "
                "corrupted, truncated, reordered or spliced; restore the object from a good copy"
            ) from None
        yield plaintext, final
        if final:
            return
        if len(following) < TAG_LEN:
            raise IntegrityError(f"object {where}: chunk {index + 1} is truncated")
        current = following
        index += 1


def stored_size(size: int, chunk_size: int, header_len: int) -> int:
    chunks = max(1, -(-size // chunk_size))
    return header_len + size + chunks * TAG_LEN
