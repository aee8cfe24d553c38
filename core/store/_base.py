"""The object store interface and everything both backends share: put, get, verify, sweep.

A put streams the caller's bytes once: each chunk is added to the address (SHA-256 or HMAC),
sealed (citizen-data zones) and written to a staging file; when the stream ends the address is
known and the backend commits the staged bytes under it — or finds the same address already stored
and writes nothing (put is idempotent). Memory stays at a few chunks whatever the object's size.

A get streams the stored bytes back through the same checks: every encrypted chunk is
authenticated as it arrives (the first bad chunk raises), and the address is recomputed over the
plaintext; the last block is held back until the address matches, so a reader never receives a
complete object that failed its check.

Why one module of this length: put and get are each one streaming loop (address, seal, stage /
authenticate, re-address) that both backends share; the parts of a loop stay together.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, BinaryIO, ClassVar, Protocol

from core import failpoints, ledger
from core.db import Database
from core.errors import ConfigError, IntegrityError, ObjectNotFound, StoreError
from core.keys.datakeys import DataKeyring
from core.store import _envelope as env
from core.store._model import (
    ENCRYPTION_CHUNKED,
    ENCRYPTION_NONE,
    NEVER_SWEPT,
    ObjectInfo,
    ObjectRef,
    ObjectSummary,
    SweepReport,
    Zone,
    check_key,
    check_metadata,
)

RETENTION_STREAM = "store.retention"
FP_BEFORE_COMMIT = failpoints.declare(
    "store.put.before_commit", "object fully staged and addressed, not yet committed"
)
FP_SWEEP_AFTER_RECORD = failpoints.declare(
    "store.sweep.after_record", "expiry recorded in the ledger, object not yet deleted"
)
STAGING_MAX_AGE = timedelta(days=1)

Source = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]
KeyringSource = DataKeyring | Callable[[], DataKeyring] | None


class Staging(Protocol):
    """Where a put writes the stored bytes before it knows their address."""

    file: IO[bytes]

    def discard(self) -> None: ...


@dataclass
class RawObject:
    """Stored bytes of one object as the backend returns them, with its metadata."""

    meta: dict[str, str]
    stored_size: int
    blocks: Iterator[bytes]
    close: Callable[[], None]


@dataclass
class EncodeResult:
    key: str = ""
    size: int = 0
    stored_size: int = 0
    stored_sha256: bytes = b""
    address_key_id: str | None = None
    data_key_id: str | None = None
    encryption: str = ENCRYPTION_NONE
    done: bool = field(default=False)


def exact_chunks(data: Source, size: int) -> Iterator[bytes]:
    """Cut any source into chunks of exactly ``size`` bytes (the last may be shorter; none if empty)."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
        return
    read = getattr(data, "read", None)
    if callable(read):
        while True:
            block = read(size)
            if not block:
                return
            if len(block) < size:
                parts = [block]
                have = len(block)
                while have < size:
                    more = read(size - have)
                    if not more:
                        break
                    parts.append(more)
                    have += len(more)
                block = b"".join(parts)
            yield bytes(block)
            if len(block) < size:
                return
    buf = bytearray()
    for piece in data:
        if not isinstance(piece, bytes | bytearray | memoryview):
            raise TypeError(f"put: an iterable source must yield bytes, not {type(piece).__name__}")
        buf += piece
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


class ObjectReader(io.RawIOBase):
    """A verified stream of an object's plaintext: file-like (``read``) or by chunks (``chunks()``).

    Raises :class:`~core.errors.IntegrityError` (naming zone and key) from ``read``/``chunks`` at the
    first chunk that fails, or at the end when the address or size does not match. Use it as a
    context manager, or call :meth:`close`.
    """

    def __init__(self, info: ObjectInfo, chunks: Iterator[bytes], closer: Callable[[], None]) -> None:
        super().__init__()
        self.info = info
        self._chunks = chunks
        self._closer = closer
        self._buf = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while self._pos >= len(self._buf):
            try:
                self._buf, self._pos = next(self._chunks), 0
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._buf) - self._pos)
        memoryview(buffer).cast("B")[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def chunks(self) -> Iterator[bytes]:
        """The remaining plaintext, chunk by chunk (each verified before it is yielded)."""
        if self._pos < len(self._buf):
            yield self._buf[self._pos :]
            self._buf, self._pos = b"", 0
        yield from self._chunks

    def close(self) -> None:
        if not self.closed:
            try:
                self._closer()
            finally:
                super().close()


class ObjectStore(ABC):
    """Content-addressed zones over a backend (see :class:`FolderStore`, :class:`S3Store`)."""

    backend: ClassVar[str]
    wants_stored_sha256: ClassVar[bool] = True  # _commit receives the SHA-256 of the stored bytes

    def __init__(
        self,
        *,
        keyring: KeyringSource = None,
        chunk_size: int = 1024 * 1024,
        retention_days: Mapping[str, int] | None = None,
    ) -> None:
        self.chunk_size = env.check_chunk_size(chunk_size)
        self._keyring_source = keyring
        self._keyring: DataKeyring | None = keyring if isinstance(keyring, DataKeyring) else None
        self._keyring_lock = threading.Lock()
        self.retention_days = self._check_retention(retention_days or {})

    # -- configuration ---------------------------------------------------------------------------
    @staticmethod
    def _check_retention(retention: Mapping[str, int]) -> dict[Zone, int]:
        out: dict[Zone, int] = {}
        for name, days in retention.items():
            zone = Zone.parse(name)
            if zone in NEVER_SWEPT:
                raise ConfigError(
                    f"retention for zone {zone.value!r} is not allowed: licenses are kept for ever; "
                    "remove it from TONGBAN_STORE__RETENTION_DAYS",
                    code="STORE_RETENTION",
                )
            if days < 1:
                raise ConfigError(
                    f"retention for zone {zone.value!r} must be at least 1 day, not {days}",
                    code="STORE_RETENTION",
                )
            out[zone] = int(days)
        return out

    @property
    def keyring(self) -> DataKeyring:
        """Data keys (``store`` encrypts, ``store-address`` addresses); loaded on first use."""
        if self._keyring is None:
            with self._keyring_lock:
                if self._keyring is None:
                    if self._keyring_source is None:
                        raise ConfigError(
                            "this object store has no data keys, so citizen-data zones (raw, "
                            "held, quarantine) cannot be used: open it with open_store(settings)",
                            code="STORE_NO_KEYS",
                        )
                    assert callable(self._keyring_source)
                    self._keyring = self._keyring_source()
        return self._keyring

    def rotate_data_key(self) -> str:
        """Make a new current encryption key; objects written before stay readable. Returns its id."""
        return self.keyring.rotate(env.DATA_KEY_PURPOSE).key_id

    # -- writing -----------------------------------------------------------------------------------
    def put(
        self,
        zone: str | Zone,
        data: Source,
        *,
        content_type: str = "application/octet-stream",
        source: str = "",
        schema_version: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> ObjectRef:
        """Store ``data`` (bytes, a binary file or an iterable of bytes) in ``zone``, streaming.

        Returns the object's reference; the same content always gets the same key, and a second put
        of it writes nothing (``existed=True``, the first put's metadata is kept).
        """
        z = Zone.parse(zone)
        extra_fields = check_metadata(content_type, source, schema_version, extra)
        hmac_key, address_key_id = self._address_key(z)
        created = datetime.now(UTC)

        known_absent = False
        if isinstance(data, bytes | bytearray | memoryview):  # known content: skip the work if stored
            key = env.address_of(bytes(data), hmac_key)
            try:
                return ObjectRef(self.stat(z, key), existed=True)
            except ObjectNotFound:
                known_absent = True

        result = EncodeResult()
        staging = self._new_staging(z)
        try:
            for block in self._encode(z, exact_chunks(data, self.chunk_size), hmac_key, result):
                staging.file.write(block)
            result.address_key_id = address_key_id
            info = ObjectInfo(
                zone=z,
                key=result.key,
                size=result.size,
                stored_size=result.stored_size,
                created=created,
                content_type=content_type,
                source=source,
                schema_version=schema_version,
                address_alg=z.address_alg,
                address_key_id=result.address_key_id,
                encryption=result.encryption,
                data_key_id=result.data_key_id,
                extra=extra_fields,
            )
            failpoints.hit(FP_BEFORE_COMMIT)
            existing = self._commit(z, result.key, staging, info, result.stored_sha256, known_absent)
        finally:
            staging.discard()
        if existing is not None:
            return ObjectRef(existing, existed=True)
        return ObjectRef(info, existed=False)

    def put_file(
        self,
        zone: str | Zone,
        path: str | Path,
        *,
        content_type: str = "application/octet-stream",
        source: str = "",
        schema_version: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> ObjectRef:
        """Put the contents of a local file (streamed)."""
        with open(path, "rb") as fh:
            return self.put(
                zone, fh, content_type=content_type, source=source, schema_version=schema_version, extra=extra
            )

    def _address_key(self, zone: Zone) -> tuple[bytes | None, str | None]:
        if not zone.citizen_data:
            return None, None
        dk = self.keyring.current(env.ADDRESS_KEY_PURPOSE)
        return dk.key, dk.key_id

    def _encode(
        self, zone: Zone, chunks: Iterator[bytes], hmac_key: bytes | None, result: EncodeResult
    ) -> Iterator[bytes]:
        """Yield the stored bytes of ``chunks`` and fill ``result`` (address, sizes) at the end."""
        address = env.Address(hmac_key)
        size = 0
        if not zone.citizen_data:
            for chunk in chunks:
                address.update(chunk)
                size += len(chunk)
                yield chunk
            result.key, result.size, result.stored_size = address.hexdigest(), size, size
            result.stored_sha256, result.done = bytes.fromhex(result.key), True  # stored == plaintext
            return
        # the SHA-256 of the stored bytes is only needed by backends that send it (S3 checksums)
        stored = hashlib.sha256() if self.wants_stored_sha256 else None
        dk = self.keyring.current(env.DATA_KEY_PURPOSE)
        enc = env.Encryptor(zone.value, dk.key_id, dk.key, self.chunk_size)
        result.data_key_id, result.encryption = dk.key_id, ENCRYPTION_CHUNKED
        stored_size = len(enc.header)
        if stored is not None:
            stored.update(enc.header)
        yield enc.header
        pending: bytes | None = None
        for chunk in chunks:
            if pending is not None:
                sealed = enc.seal(pending, final=False)
                if stored is not None:
                    stored.update(sealed)
                stored_size += len(sealed)
                yield sealed
            address.update(chunk)
            size += len(chunk)
            pending = chunk
        sealed = enc.seal(pending or b"", final=True)
        if stored is not None:
            stored.update(sealed)
        stored_size += len(sealed)
        yield sealed
        result.key, result.size, result.stored_size = address.hexdigest(), size, stored_size
        result.stored_sha256 = stored.digest() if stored is not None else b""
        result.done = True

    # -- reading -----------------------------------------------------------------------------------
    def stat(self, zone: str | Zone, key: str) -> ObjectInfo:
        """Metadata and sizes of one object (no body read). Raises :class:`ObjectNotFound`."""
        z = Zone.parse(zone)
        check_key(z, key)
        meta, stored_size = self._head(z, key)
        return self._info(z, key, meta, stored_size)

    def exists(self, zone: str | Zone, key: str) -> bool:
        try:
            self.stat(zone, key)
        except ObjectNotFound:
            return False
        return True

    def get(self, zone: str | Zone, key: str) -> ObjectReader:
        """Open one object for reading; the stream verifies integrity as it goes (see module doc)."""
        z = Zone.parse(zone)
        check_key(z, key)
        raw = self._open_raw(z, key)
        try:
            info = self._info(z, key, raw.meta, raw.stored_size)
            chunks = self._decode(info, raw.blocks)
        except BaseException:
            raw.close()
            raise
        return ObjectReader(info, chunks, raw.close)

    def get_bytes(self, zone: str | Zone, key: str, *, max_size: int = 64 * 1024 * 1024) -> bytes:
        """The whole (verified) plaintext of a small object; refuses objects above ``max_size``."""
        with self.get(zone, key) as reader:
            if reader.info.size > max_size:
                raise StoreError(
                    f"object {reader.info.locator} has {reader.info.size} bytes, more than max_size="
                    f"{max_size}: stream it with get() or get_to_file()",
                    code="STORE_TOO_LARGE",
                    zone=reader.info.zone.value,
                    key=key,
                )
            return b"".join(reader.chunks())

    def get_to_file(self, zone: str | Zone, key: str, path: str | Path) -> ObjectInfo:
        """Write the verified plaintext to ``path``; the file appears only once the object verified."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            with self.get(zone, key) as reader, open(tmp, "wb") as out:
                for chunk in reader.chunks():
                    out.write(chunk)
                info = reader.info
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return info

    def verify(self, zone: str | Zone, key: str) -> ObjectInfo:
        """Read the whole object through its checks; raises :class:`IntegrityError` if it fails."""
        with self.get(zone, key) as reader:
            for _ in reader.chunks():
                pass
            return reader.info

    def ls(self, zone: str | Zone, prefix: str = "") -> Iterator[ObjectSummary]:
        """The objects of ``zone`` whose key starts with ``prefix``, in key order."""
        z = Zone.parse(zone)
        if prefix and not all(c in "0123456789abcdef" for c in prefix):
            raise StoreError(f"key prefix {prefix!r} must be lowercase hex", code="STORE_KEY", zone=z.value)
        return self._list(z, prefix)

    def _info(self, zone: Zone, key: str, meta: Mapping[str, str], stored_size: int) -> ObjectInfo:
        info = ObjectInfo.from_meta(zone, key, stored_size, meta)
        expected_enc = ENCRYPTION_CHUNKED if zone.citizen_data else ENCRYPTION_NONE
        if info.address_alg != zone.address_alg or info.encryption != expected_enc:
            raise IntegrityError(
                f"object {info.locator}: metadata says address {info.address_alg}, encryption "
                f"{info.encryption}, but zone {zone.value} requires {zone.address_alg}, {expected_enc}; "
                "the metadata was altered or the object was copied in by hand",
                zone=zone.value,
                key=key,
            )
        return info

    def _decode(self, info: ObjectInfo, blocks: Iterator[bytes]) -> Iterator[bytes]:
        where = info.locator
        zone, key = info.zone.value, info.key

        def fail(reason: str) -> IntegrityError:
            return IntegrityError(f"object {where}: {reason}", zone=zone, key=key)

        hmac_key = None
        if info.zone.citizen_data:
            if info.address_key_id is None:
                raise fail("metadata names no address key")
            hmac_key = self.keyring.get(info.address_key_id).key
        address = env.Address(hmac_key)
        total = 0

        def final_check() -> None:
            if total != info.size:
                raise fail(f"{total} bytes read, {info.size} recorded (truncated or extended)")
            if address.hexdigest() != info.key:
                raise fail(
                    "content does not match its address (corrupted or replaced); restore the object "
                    "from a good copy"
                )

        if not info.encrypted:
            pending: bytes | None = None
            for block in blocks:
                if not block:
                    continue
                address.update(block)
                total += len(block)
                if total > info.size:
                    raise fail(f"more bytes stored than the {info.size} recorded (extended)")
                if pending is not None:
                    yield pending
                pending = block
            final_check()
            if pending is not None:
                yield pending
            return

        reader = env.ExactReader(blocks)
        try:
            header = env.read_header(reader, where)
        except IntegrityError as exc:
            raise IntegrityError(str(exc), zone=zone, key=key) from None
        if header.key_id != info.data_key_id:
            raise fail(f"envelope names data key {header.key_id!r}, metadata {info.data_key_id!r}")
        data_key = self.keyring.get(header.key_id).key
        try:
            for plaintext, final in env.open_chunks(reader, header, data_key, zone, where):
                address.update(plaintext)
                total += len(plaintext)
                if total > info.size:
                    raise fail(f"more bytes stored than the {info.size} recorded")
                if final:
                    final_check()
                if plaintext:
                    yield plaintext
        except IntegrityError as exc:
            if exc.key is None:
                raise IntegrityError(str(exc), zone=zone, key=key) from None
            raise

    # -- deleting and retention --------------------------------------------------------------------
    def delete(self, zone: str | Zone, key: str) -> None:
        """Delete one object (never in ``licenses``). Recording why is the caller's job."""
        z = Zone.parse(zone)
        check_key(z, key)
        if z in NEVER_SWEPT:
            raise StoreError(
                f"object {z.value}/{key}: licenses are kept for ever and cannot be deleted "
                "(withdraw or revoke the license instead)",
                code="STORE_LOCKED",
                zone=z.value,
                key=key,
            )
        self._head(z, key)  # raises ObjectNotFound
        self._delete(z, key)

    def sweep(
        self,
        db: Database,
        *,
        now: datetime | None = None,
        zones: Iterable[str | Zone] | None = None,
        dry_run: bool = False,
    ) -> SweepReport:
        """Delete objects older than their zone's retention, recording each in the audit ledger.

        An object expires when ``created < now - retention_days[zone]``. Each expiry is committed to
        the ledger stream ``store.retention`` *before* the object is deleted, so no deletion goes
        unrecorded (a delete that then fails raises, and the next sweep records it again). Zones
        without a retention (licenses) are never touched. Stale staging files are removed too.
        """
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("sweep(now=...) needs an aware datetime (UTC)")
        report = SweepReport(now=now, dry_run=dry_run)
        wanted = [Zone.parse(z) for z in zones] if zones is not None else list(Zone)
        for z in wanted:
            if z in NEVER_SWEPT or z not in self.retention_days:
                continue
            days = self.retention_days[z]
            cutoff = now - timedelta(days=days)
            counts = {"examined": 0, "expired": 0, "deleted": 0}
            for summary in self._list(z, ""):  # listing stays valid while we delete behind it
                counts["examined"] += 1
                # created <= modified always (folder: equal; S3: set before the upload), so an
                # object modified after the cutoff is not expired and needs no metadata read
                if summary.modified >= cutoff:
                    continue
                try:
                    info = self.stat(z, summary.key)
                except ObjectNotFound:
                    continue
                except IntegrityError as exc:  # unknown age: keep it as evidence, let verify report it
                    report.skipped.append({"zone": z.value, "key": summary.key, "error": str(exc)})
                    continue
                if info.created >= cutoff:
                    continue
                counts["expired"] += 1
                record = {
                    "zone": z.value,
                    "key": info.key,
                    "created": info.created.isoformat(),
                    "size": info.size,
                    "stored_size": info.stored_size,
                    "retention_days": days,
                    "cutoff": cutoff.isoformat(),
                    "backend": self.backend,
                }
                if not dry_run:
                    with db.session() as session:
                        entry = ledger.append(session, RETENTION_STREAM, "object.expired", record)
                        record["ledger_seq"] = entry.seq
                    failpoints.hit(FP_SWEEP_AFTER_RECORD)
                    with suppress(ObjectNotFound):
                        self._delete(z, info.key)
                    counts["deleted"] += 1
                report.deleted.append(record)
            report.zones[z.value] = counts
        if not dry_run:
            report.staging_removed = self._clean_staging(now - STAGING_MAX_AGE)
        return report

    # -- operations --------------------------------------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """Where this store keeps objects (no secrets)."""

    @abstractmethod
    def check_writable(self) -> str:
        """Prove every zone can be written (without leaving objects behind); returns a summary."""

    # -- backend primitives ------------------------------------------------------------------------
    @abstractmethod
    def _new_staging(self, zone: Zone) -> Staging: ...

    @abstractmethod
    def _commit(
        self,
        zone: Zone,
        key: str,
        staging: Staging,
        info: ObjectInfo,
        stored_sha256: bytes,
        known_absent: bool = False,
    ) -> ObjectInfo | None:
        """Store the staged bytes under ``key``; return the existing info instead if already stored.

        ``known_absent``: the caller has just seen that ``key`` is not stored (a backend may skip
        its own check; a concurrent writer of the same content then writes it twice, harmlessly).
        """

    @abstractmethod
    def _head(self, zone: Zone, key: str) -> tuple[dict[str, str], int]:
        """Metadata and stored size; raises :class:`ObjectNotFound`."""

    @abstractmethod
    def _open_raw(self, zone: Zone, key: str) -> RawObject: ...

    @abstractmethod
    def _list(self, zone: Zone, prefix: str) -> Iterator[ObjectSummary]: ...

    @abstractmethod
    def _delete(self, zone: Zone, key: str) -> None: ...

    @abstractmethod
    def _clean_staging(self, older_than: datetime) -> int: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def not_found(zone: Zone, key: str, where: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"object {zone.value}/{key} not found in {where}; "
        f"check the zone and key (tongban store ls {zone.value})",
        zone=zone.value,
        key=key,
    )
