"""The S3 backend (MinIO in production) through the ``minio`` SDK.

One bucket per zone, ``<bucket_prefix>-<zone>``, created on first use; the object name is the key.
The licenses bucket is created versioned with object lock and a default retention
(``license_lock_mode`` / ``license_lock_years``); a licenses bucket found without object lock is
refused. Metadata travels as user metadata ``x-amz-meta-tb-*`` (values percent-encoded: S3 headers
are US-ASCII).

A put first spools the stored bytes to a local temporary file (in memory up to 8 MiB, then on
disk under ``staging_dir``) while the address is computed, then checks whether the address is
already stored (idempotent: nothing is uploaded twice) and uploads once under its final name.
Why not stream straight into the bucket under a temporary name and copy? That leaves temporary
objects behind on a crash — in the object-locked licenses bucket ones that can never be removed —
and object lock wants the whole object's checksum before the PUT. Objects up to ``part_size`` (and
every license) go in one PUT carrying ``x-amz-checksum-sha256``; larger ones as a multipart upload
of ``part_size`` parts, one part in memory at a time (``num_parallel_uploads=1``: the SDK's thread
pool would otherwise queue every part in memory).
"""

from __future__ import annotations

import base64
import io
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.objectlockconfig import YEARS, ObjectLockConfig

from core.errors import ObjectNotFound, StoreError, StoreUnavailable
from core.keys.datakeys import DataKeyring
from core.store._base import KeyringSource, ObjectStore, RawObject, Staging, not_found
from core.store._model import KEY_RE, NEVER_SWEPT, ObjectInfo, ObjectSummary, Zone

SPOOL_IN_MEMORY = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_SINGLE_PUT = 5 * 1024 * 1024 * 1024
LICENSE_MAX_BYTES = 64 * 1024 * 1024  # licenses go in one PUT (object lock wants the checksum)
NOT_FOUND_CODES = {"NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound", "NoSuchVersion"}
AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
META_PREFIX = "x-amz-meta-"
META_SAFE = "-_.:+/=@,"


class _SpoolStaging:
    def __init__(self, directory: Path | None) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by discard()
            max_size=SPOOL_IN_MEMORY, dir=str(directory) if directory else None
        )

    def discard(self) -> None:
        self.file.close()


class S3Store(ObjectStore):
    """Objects in S3 buckets, one per zone."""

    backend = "s3"

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        secure: bool = False,
        region: str = "us-east-1",
        bucket_prefix: str = "tongban",
        part_size: int = 16 * 1024 * 1024,
        license_lock_mode: str = "GOVERNANCE",
        license_lock_years: int = 30,
        staging_dir: Path | None = None,
        keyring: KeyringSource | DataKeyring = None,
        chunk_size: int = 1024 * 1024,
        retention_days: dict[str, int] | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
    ) -> None:
        super().__init__(keyring=keyring, chunk_size=chunk_size, retention_days=retention_days)
        if not MIN_PART_SIZE <= part_size <= MAX_SINGLE_PUT:
            raise StoreError(
                f"S3 part size {part_size} out of range: use 5 MiB .. 5 GiB (TONGBAN_STORE__S3_PART_SIZE)",
                code="STORE_CONFIG",
            )
        for zone in Zone:
            name = f"{bucket_prefix}-{zone.value}"
            if not BUCKET_RE.match(name):
                raise StoreError(
                    f"bucket name {name!r} is not a valid S3 bucket name: fix TONGBAN_STORE__BUCKET_PREFIX "
                    "(lowercase letters, digits, '-')",
                    code="STORE_CONFIG",
                )
        self.endpoint = endpoint
        self.secure = secure
        self.region = region
        self.bucket_prefix = bucket_prefix
        self.part_size = part_size
        self.license_lock_mode = license_lock_mode
        self.license_lock_years = license_lock_years
        self.staging_dir = staging_dir
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s),
            maxsize=10,
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            **_tls_args(secure),
        )
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self._ready: set[Zone] = set()
        self._bucket_lock = threading.Lock()
        self._read_block = max(256 * 1024, chunk_size)

    def describe(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"s3 {scheme}://{self.endpoint} buckets {self.bucket_prefix}-<zone>"

    def bucket(self, zone: str | Zone) -> str:
        """The bucket of a zone (for operators and tests)."""
        return f"{self.bucket_prefix}-{Zone.parse(zone).value}"

    # -- errors ------------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, what: str, zone: Zone | None = None, key: str | None = None) -> Iterator[None]:
        zname = zone.value if zone else None
        try:
            yield
        except S3Error as exc:
            if exc.code in NOT_FOUND_CODES and zone is not None and key is not None:
                raise not_found(zone, key, self.describe()) from None
            if exc.code in AUTH_CODES:
                raise StoreUnavailable(
                    f"S3 at {self.endpoint} refused {what} ({exc.code}): check TONGBAN_STORE__S3_ACCESS_KEY "
                    "and TONGBAN_STORE__S3_SECRET_KEY and the bucket policy",
                    code="STORE_ACCESS_DENIED",
                    zone=zname,
                    key=key,
                ) from exc
            raise StoreError(
                f"S3 {what} failed: {exc.code}: {exc.message}", code="STORE_S3", zone=zname, key=key
            ) from exc
        except (ServerError, InvalidResponseError, MinioException) as exc:
            raise StoreUnavailable(
                f"S3 at {self.endpoint} answered {what} with an error: {exc}", zone=zname, key=key
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(
                f"S3 endpoint {self.endpoint} not reachable during {what}: {type(exc).__name__}; "
                "check TONGBAN_STORE__S3_ENDPOINT and that the server runs",
                zone=zname,
                key=key,
            ) from exc

    # -- buckets -----------------------------------------------------------------------------------
    def _ensure_bucket(self, zone: Zone) -> str:
        name = self.bucket(zone)
        if zone in self._ready:
            return name
        with self._bucket_lock, self._errors(f"creating bucket {name}", zone):
            if not self.client.bucket_exists(name):
                try:
                    self.client.make_bucket(name, location=self.region, object_lock=zone in NEVER_SWEPT)
                except S3Error as exc:
                    if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise
                if zone in NEVER_SWEPT:
                    self.client.set_object_lock_config(
                        name, ObjectLockConfig(self.license_lock_mode, self.license_lock_years, YEARS)
                    )
            if zone in NEVER_SWEPT:
                self._check_locked(name)
            self._ready.add(zone)
        return name

    def _check_locked(self, name: str) -> str:
        try:
            cfg = self.client.get_object_lock_config(name)
        except S3Error as exc:
            raise StoreError(
                f"licenses bucket {name} has no object lock ({exc.code}); licenses must be immutable: "
                "create the bucket with object lock (mc mb --with-lock) or let tongban create it",
                code="STORE_NO_OBJECT_LOCK",
                zone=Zone.LICENSES.value,
            ) from exc
        versioning = self.client.get_bucket_versioning(name).status
        if versioning != "Enabled":
            raise StoreError(
                f"licenses bucket {name} is not versioned (status {versioning!r})",
                code="STORE_NO_OBJECT_LOCK",
                zone=Zone.LICENSES.value,
            )
        return str(cfg.mode or "no default retention")

    # -- primitives --------------------------------------------------------------------------------
    def _new_staging(self, zone: Zone) -> Staging:
        try:
            return _SpoolStaging(self.staging_dir)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create a staging file in {self.staging_dir}: {exc}") from exc

    def _commit(
        self,
        zone: Zone,
        key: str,
        staging: Staging,
        info: ObjectInfo,
        stored_sha256: bytes,
        known_absent: bool = False,
    ) -> ObjectInfo | None:
        bucket = self._ensure_bucket(zone)
        if not known_absent:
            with suppress(ObjectNotFound):
                return self.stat(zone, key)
        size = info.stored_size
        headers: dict[str, Any] = {
            META_PREFIX + name: quote(value, safe=META_SAFE) for name, value in info.to_meta().items()
        }
        content_type = "application/octet-stream" if zone.citizen_data else info.content_type
        single = zone in NEVER_SWEPT or size <= self.part_size
        if zone in NEVER_SWEPT and size > LICENSE_MAX_BYTES:
            raise StoreError(
                f"object for zone {zone.value} has {size} bytes; the licenses bucket takes objects up to "
                f"{LICENSE_MAX_BYTES} bytes (one PUT with a checksum, as object lock requires)",
                code="STORE_TOO_LARGE",
                zone=zone.value,
                key=key,
            )
        if single:
            headers["x-amz-checksum-sha256"] = base64.b64encode(stored_sha256).decode()
            headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
        staging.file.seek(0)
        with self._errors(f"upload of {zone.value}/{key}", zone, None):
            self.client.put_object(
                bucket,
                key,
                staging.file,
                size,
                content_type=content_type,
                metadata=headers,
                part_size=max(MIN_PART_SIZE, size) if single else self.part_size,
                num_parallel_uploads=1,
            )
        return None

    @staticmethod
    def _meta(headers: Any) -> dict[str, str]:
        out = {}
        for name, value in headers.items():
            low = name.lower()
            if low.startswith(META_PREFIX + "tb-"):
                out[low[len(META_PREFIX) :]] = unquote(value)
        return out

    def _head(self, zone: Zone, key: str) -> tuple[dict[str, str], int]:
        with self._errors(f"stat of {zone.value}/{key}", zone, key):
            st = self.client.stat_object(self.bucket(zone), key)
        return self._meta(st.metadata), int(st.size or 0)

    def _open_raw(self, zone: Zone, key: str) -> RawObject:
        with self._errors(f"get of {zone.value}/{key}", zone, key):
            resp = self.client.get_object(self.bucket(zone), key)
        try:
            meta = self._meta(resp.headers)
            size = int(resp.headers.get("content-length", "0"))
        except BaseException:
            resp.close()
            resp.release_conn()
            raise

        def blocks() -> Iterator[bytes]:
            with self._errors(f"reading {zone.value}/{key}", zone, key):
                yield from resp.stream(self._read_block)

        def close() -> None:
            resp.close()
            resp.release_conn()

        return RawObject(meta, size, blocks(), close)

    def _list(self, zone: Zone, prefix: str) -> Iterator[ObjectSummary]:
        bucket = self.bucket(zone)
        try:
            with self._errors(f"listing {bucket}", zone):
                for obj in self.client.list_objects(bucket, prefix=prefix or None, recursive=True):
                    name = obj.object_name or ""
                    if KEY_RE.match(name) and obj.last_modified is not None:
                        yield ObjectSummary(zone, name, int(obj.size or 0), obj.last_modified)
        except StoreError as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code == "NoSuchBucket":
                return
            raise

    def _delete(self, zone: Zone, key: str) -> None:
        with self._errors(f"delete of {zone.value}/{key}", zone, key):
            self.client.remove_object(self.bucket(zone), key)

    def _clean_staging(self, older_than: Any) -> int:
        return 0  # staging files are anonymous temporary files: they vanish with the process

    def check_writable(self) -> str:
        lock = ""
        for zone in Zone:
            bucket = self._ensure_bucket(zone)
            if zone in NEVER_SWEPT:
                with self._errors(f"checking object lock of {bucket}", zone):
                    lock = self._check_locked(bucket)
                continue  # never write a probe into the locked bucket: it could not be removed
            name = f".probe/{uuid.uuid4().hex}"
            with self._errors(f"writing a probe to {bucket}", zone):
                data = b"tongban doctor probe"
                self.client.put_object(bucket, name, io.BytesIO(data), len(data))
                self.client.remove_object(bucket, name)
        return f"{self.describe()} writable; licenses bucket versioned with object lock ({lock})"


def _tls_args(secure: bool) -> dict[str, Any]:
    if not secure:
        return {}
    import certifi

    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": os.environ.get("SSL_CERT_FILE") or certifi.where()}
