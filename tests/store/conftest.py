"""Fixtures for the object store: one suite, two backends (a folder and S3 on a real moto server).

``moto_endpoint`` starts ``python -m moto.server`` on a free loopback port for the test session
(waits until it answers, kills it at the end) — the minio SDK talks real HTTP to it; nothing is
mocked. ``store`` is parametrized over ``folder`` and ``s3``; each test gets fresh buckets (a
unique bucket prefix) or a fresh folder. ``raw`` reads and overwrites the stored bytes behind the
store's back, to corrupt objects the way a failing disk or a hand edit would.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.keys.datakeys import DataKeyring
from core.net import free_port
from core.store import FolderStore, ObjectStore, S3Store, Zone

CHUNK = 4096  # small chunks so multi-chunk paths run on small objects
RETENTION = {"raw": 90, "held": 30, "quarantine": 365, "reports": 730}
S3_ACCESS, S3_SECRET = "testing", "testing"


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server on loopback for this test session: ``host:port``."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"moto server did not answer on {url} within 60 s")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def keyring(tmp_path: Path) -> DataKeyring:
    return DataKeyring(tmp_path / "datakeys", os.urandom(32))


def make_store(
    backend: str,
    tmp_path: Path,
    keyring: DataKeyring,
    endpoint: str | None,
    *,
    chunk_size: int = CHUNK,
    prefix: str | None = None,
) -> ObjectStore:
    if backend == "folder":
        return FolderStore(
            tmp_path / "store", keyring=keyring, chunk_size=chunk_size, retention_days=RETENTION
        )
    assert endpoint is not None
    return S3Store(
        endpoint=endpoint,
        bucket_prefix=prefix or f"t{uuid.uuid4().hex[:12]}",
        part_size=5 * 1024 * 1024,
        staging_dir=tmp_path,
        keyring=keyring,
        chunk_size=chunk_size,
        retention_days=RETENTION,
        access_key=S3_ACCESS,
        secret_key=S3_SECRET,
    )


@pytest.fixture(params=["folder", pytest.param("s3", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path, keyring: DataKeyring, request: pytest.FixtureRequest) -> ObjectStore:
    endpoint = request.getfixturevalue("moto_endpoint") if backend == "s3" else None
    return make_store(backend, tmp_path, keyring, endpoint)


class RawAccess:
    """The stored bytes of an object, read and overwritten behind the store's back."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def read(self, zone: str | Zone, key: str) -> bytes:
        if isinstance(self.store, FolderStore):
            return self.store.path_for(zone, key).read_bytes()
        assert isinstance(self.store, S3Store)
        resp = self.store.client.get_object(self.store.bucket(zone), key)
        try:
            return bytes(resp.read())
        finally:
            resp.close()
            resp.release_conn()

    def metadata_text(self, zone: str | Zone, key: str) -> str:
        """Everything stored beside the bytes (sidecar file or S3 headers), as text."""
        if isinstance(self.store, FolderStore):
            path = self.store.path_for(zone, key)
            return path.with_name(path.name + ".meta.json").read_text(encoding="utf-8")
        assert isinstance(self.store, S3Store)
        st = self.store.client.stat_object(self.store.bucket(zone), key)
        return "\n".join(f"{k}: {v}" for k, v in st.metadata.items())

    def write(self, zone: str | Zone, key: str, data: bytes, *, keep_metadata: bool = True) -> None:
        """Replace the stored bytes (as a disk fault or a hand edit would), keeping or losing the metadata."""
        if isinstance(self.store, FolderStore):
            path = self.store.path_for(zone, key)
            path.write_bytes(data)
            if not keep_metadata:
                path.with_name(path.name + ".meta.json").write_text("{}")
            return
        assert isinstance(self.store, S3Store)
        import base64
        import hashlib

        bucket = self.store.bucket(zone)
        st = self.store.client.stat_object(bucket, key)
        meta = {k: v for k, v in st.metadata.items() if keep_metadata and k.lower().startswith("x-amz-meta-")}
        meta["x-amz-checksum-sha256"] = base64.b64encode(hashlib.sha256(data).digest()).decode()
        meta["x-amz-sdk-checksum-algorithm"] = "SHA256"
        self.store.client.put_object(bucket, key, io.BytesIO(data), len(data), metadata=meta)


@pytest.fixture
def raw(store: ObjectStore) -> RawAccess:
    return RawAccess(store)
