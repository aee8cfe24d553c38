"""The folder backend: the embedded default (``settings.store_folder``).

Layout::

    <root>/<zone>/<key[:2]>/<key>              stored bytes (ciphertext envelope in citizen-data zones)
    <root>/<zone>/<key[:2]>/<key>.meta.json    metadata sidecar (flat ``tb-*`` fields)
    <root>/.staging/                          puts in progress (same file system: commit is a rename)
    <root>/.locks/<zone>.lock                 flock taken while committing or deleting in a zone

A commit writes the sidecar, then renames the staged file into place under the zone lock, so an
object is visible only when complete, and two writers of the same content store it once. The data
file's mtime is set to the object's ``created`` time (the retention clock). Files are mode 0600 in
citizen-data zones and 0644 in public ones.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from core.errors import IntegrityError, StoreUnavailable
from core.keys.datakeys import DataKeyring
from core.store._base import KeyringSource, ObjectStore, RawObject, Staging, not_found
from core.store._model import KEY_RE, ObjectInfo, ObjectSummary, Zone, check_key

READ_BLOCK_MIN = 256 * 1024


class _FileStaging:
    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(dir=directory, suffix=".part")
        self.path = Path(name)
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


class FolderStore(ObjectStore):
    """Objects as files under one folder."""

    backend = "folder"
    wants_stored_sha256 = False

    def __init__(
        self,
        root: str | Path,
        *,
        keyring: KeyringSource | DataKeyring = None,
        chunk_size: int = 1024 * 1024,
        retention_days: dict[str, int] | None = None,
    ) -> None:
        super().__init__(keyring=keyring, chunk_size=chunk_size, retention_days=retention_days)
        self.root = Path(root).expanduser().resolve()
        self._read_block = max(READ_BLOCK_MIN, chunk_size)

    def describe(self) -> str:
        return f"folder {self.root}"

    # -- paths -------------------------------------------------------------------------------------
    def path_for(self, zone: str | Zone, key: str) -> Path:
        """The file holding an object's stored bytes (for operators and tests)."""
        z = Zone.parse(zone)
        check_key(z, key)
        return self.root / z.value / key[:2] / key

    @staticmethod
    def _sidecar(path: Path) -> Path:
        return path.with_name(path.name + ".meta.json")

    def _dir(self, name: str) -> Path:
        d = self.root / name
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create {d}: {exc.strerror}; check TONGBAN_STORE__FOLDER and its permissions"
            ) from exc
        return d

    @contextmanager
    def _zone_lock(self, zone: Zone) -> Iterator[None]:
        lock_path = self._dir(".locks") / f"{zone.value}.lock"
        with open(lock_path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- primitives --------------------------------------------------------------------------------
    def _new_staging(self, zone: Zone) -> Staging:
        try:
            return _FileStaging(self._dir(".staging"))
        except OSError as exc:
            raise StoreUnavailable(f"cannot write to {self.root / '.staging'}: {exc.strerror}") from exc

    def _commit(
        self,
        zone: Zone,
        key: str,
        staging: Staging,
        info: ObjectInfo,
        stored_sha256: bytes,
        known_absent: bool = False,
    ) -> ObjectInfo | None:
        assert isinstance(staging, _FileStaging)
        final = self.path_for(zone, key)
        mode = 0o600 if zone.citizen_data else 0o644
        try:
            staging.file.flush()
            os.fsync(staging.file.fileno())
            staging.file.close()
            with self._zone_lock(zone):
                if final.exists():
                    return self.stat(zone, key)
                final.parent.mkdir(parents=True, exist_ok=True)
                sidecar = self._sidecar(final)
                tmp = sidecar.with_name(f".{sidecar.name}.{uuid.uuid4().hex}")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(info.to_meta(), fh, ensure_ascii=False, sort_keys=True, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, sidecar)
                os.chmod(staging.path, mode)
                ts = info.created.timestamp()
                os.utime(staging.path, (ts, ts))
                os.replace(staging.path, final)
                dir_fd = os.open(final.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot store object {zone.value}/{key} under {self.root}: {exc.strerror}",
                zone=zone.value,
                key=key,
            ) from exc
        return None

    def _read_meta(self, zone: Zone, key: str, path: Path) -> dict[str, str]:
        try:
            doc = json.loads(self._sidecar(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise IntegrityError(
                f"object {zone.value}/{key}: metadata sidecar unreadable ({exc})", zone=zone.value, key=key
            ) from exc
        if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
            raise IntegrityError(
                f"object {zone.value}/{key}: metadata sidecar is not a flat string map",
                zone=zone.value,
                key=key,
            )
        return doc

    def _head(self, zone: Zone, key: str) -> tuple[dict[str, str], int]:
        path = self.path_for(zone, key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise not_found(zone, key, self.describe()) from None
        return self._read_meta(zone, key, path), size

    def _open_raw(self, zone: Zone, key: str) -> RawObject:
        path = self.path_for(zone, key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the reader
        except FileNotFoundError:
            raise not_found(zone, key, self.describe()) from None
        try:
            meta = self._read_meta(zone, key, path)
            size = os.fstat(fh.fileno()).st_size
        except BaseException:
            fh.close()
            raise

        def blocks() -> Iterator[bytes]:
            while block := fh.read(self._read_block):
                yield block

        return RawObject(meta, size, blocks(), fh.close)

    def _list(self, zone: Zone, prefix: str) -> Iterator[ObjectSummary]:
        zdir = self.root / zone.value
        if not zdir.is_dir():
            return
        for sub in sorted(os.listdir(zdir)):
            if len(sub) != 2 or not sub.startswith(prefix[:2]):
                continue
            entries = []
            with os.scandir(zdir / sub) as it:
                for e in it:
                    if KEY_RE.match(e.name) and e.name.startswith(prefix) and e.is_file():
                        st = e.stat()
                        entries.append(
                            ObjectSummary(zone, e.name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))
                        )
            yield from sorted(entries, key=lambda s: s.key)

    def _delete(self, zone: Zone, key: str) -> None:
        path = self.path_for(zone, key)
        with self._zone_lock(zone):
            try:
                path.unlink()
            except FileNotFoundError:
                raise not_found(zone, key, self.describe()) from None
            self._sidecar(path).unlink(missing_ok=True)

    def _clean_staging(self, older_than: datetime) -> int:
        staging = self.root / ".staging"
        if not staging.is_dir():
            return 0
        removed = 0
        cutoff = older_than.timestamp()
        for p in staging.iterdir():
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def check_writable(self) -> str:
        try:
            for name in [".staging", *(z.value for z in Zone)]:
                d = self._dir(name)
                probe = d / f".probe-{uuid.uuid4().hex}"
                with open(probe, "wb") as fh:
                    fh.write(b"tongban doctor probe")
                    fh.flush()
                    os.fsync(fh.fileno())
                probe.unlink()
        except OSError as exc:
            raise StoreUnavailable(
                f"object store folder {self.root} is not writable: {exc.strerror}; "
                "check TONGBAN_STORE__FOLDER and its permissions"
            ) from exc
        free = shutil.disk_usage(self.root).free
        return f"folder {self.root} writable ({len(Zone)} zones), {free / 2**30:.1f} GiB free"
