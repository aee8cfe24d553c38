"""The object store contract, run on both backends (folder, and S3 against a moto server).

Covers addressing (SHA-256 / keyed HMAC), idempotent put, metadata, integrity (corruption,
truncation, reordering, splicing — caught chunk by chunk and named by key), encryption at rest
(no plaintext in the stored bytes), key rotation, listing, deletion and the retention sweep with
its ledger records.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import failpoints, ledger
from core.db import Base, Database
from core.errors import ConfigError, FailpointHit, IntegrityError, KeyStoreError, ObjectNotFound, StoreError
from core.keys.datakeys import DataKeyring
from core.ledger import LedgerEntry, LedgerHead
from core.store import (
    ADDRESS_KEY_PURPOSE,
    CITIZEN_ZONES,
    FP_BEFORE_COMMIT,
    FP_SWEEP_AFTER_RECORD,
    RETENTION_STREAM,
    TAG_LEN,
    FolderStore,
    ObjectStore,
    S3Store,
    Zone,
    parse_locator,
)
from tests.store.conftest import CHUNK, S3_ACCESS, S3_SECRET, RawAccess, make_store

RESIDENT_ID = "510129199001011238"
CASE_CSV = (
    "row_guid,holder_name,holder_id,item\n"
    + "".join(f"g{i:05d},张三,{RESIDENT_ID},营业执照\n" for i in range(400))
).encode()


def pattern(size: int, seed: int = 1) -> bytes:
    block = hashlib.sha256(seed.to_bytes(4, "big")).digest()
    return (block * (size // len(block) + 1))[:size]


def header_len(raw_bytes: bytes) -> int:
    return 10 + raw_bytes[9] + 32


# -- round trips and addressing -------------------------------------------------------------------


@pytest.mark.parametrize("zone", list(Zone))
@pytest.mark.parametrize("size", [0, 3 * CHUNK + 7])
def test_put_get_round_trip_in_every_zone(store: ObjectStore, zone: Zone, size: int) -> None:
    data = pattern(size)
    ref = store.put(zone, data, content_type="application/octet-stream")
    assert ref.existed is False and ref.size == size and ref.zone is zone
    with store.get(zone, ref.key) as reader:
        assert reader.read() == data
        assert reader.info.size == size
    assert store.get_bytes(zone, ref.key) == data


@pytest.mark.parametrize("size", [1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 5 * CHUNK + 123])
@pytest.mark.parametrize("zone", [Zone.RAW, Zone.LICENSES])
def test_chunk_boundaries(store: ObjectStore, zone: Zone, size: int) -> None:
    data = pattern(size, seed=size)
    ref = store.put(zone, data)
    with store.get(zone, ref.key) as reader:
        assert b"".join(reader.chunks()) == data


def test_public_zones_are_addressed_by_sha256(store: ObjectStore) -> None:
    data = b"%PDF-1.7 a license"
    for zone in (Zone.LICENSES, Zone.REPORTS):
        ref = store.put(zone, data, content_type="application/pdf")
        assert ref.key == hashlib.sha256(data).hexdigest()
        assert ref.info.address_alg == "sha256" and not ref.info.encrypted


def test_citizen_zones_are_addressed_by_keyed_hmac(store: ObjectStore, keyring: DataKeyring) -> None:
    address_key = keyring.current(ADDRESS_KEY_PURPOSE)
    expected = hmac.new(address_key.key, CASE_CSV, hashlib.sha256).hexdigest()
    for zone in CITIZEN_ZONES:
        ref = store.put(zone, CASE_CSV)
        assert ref.key == expected, zone
        assert ref.key != hashlib.sha256(CASE_CSV).hexdigest()
        assert ref.info.address_alg == "hmac-sha256" and ref.info.address_key_id == address_key.key_id
        assert ref.info.encrypted and ref.info.data_key_id is not None


def test_every_kind_of_source_gives_the_same_object(store: ObjectStore, tmp_path: Path) -> None:
    data = pattern(3 * CHUNK + 11)
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    path = tmp_path / "batch.bin"
    path.write_bytes(data)
    keys = {
        store.put("raw", data).key,
        store.put("raw", io.BytesIO(data)).key,
        store.put("raw", iter(pieces)).key,
        store.put("raw", bytearray(data)).key,
        store.put_file("raw", path).key,
    }
    assert len(keys) == 1
    assert store.get_bytes("raw", keys.pop()) == data


@pytest.mark.parametrize("zone", [Zone.RAW, Zone.REPORTS, Zone.LICENSES])
@pytest.mark.parametrize("as_stream", [False, True])
def test_put_is_idempotent_and_never_rewrites(
    store: ObjectStore, raw: RawAccess, zone: Zone, as_stream: bool
) -> None:
    data = pattern(2 * CHUNK + 5)
    first = store.put(zone, data, source="county-a")
    stored = raw.read(zone, first.key)
    again = store.put(zone, io.BytesIO(data) if as_stream else data, source="county-b")
    assert again.existed is True and again.key == first.key
    assert again.info.created == first.info.created and again.info.source == "county-a"
    # an encrypted object rewritten would have a new random salt, so identical bytes prove no rewrite
    assert raw.read(zone, first.key) == stored
    assert [s.key for s in store.ls(zone)] == [first.key]


def test_concurrent_puts_of_the_same_content_store_one_object(store: ObjectStore) -> None:
    data = pattern(4 * CHUNK)
    keys: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            keys.append(store.put("held", io.BytesIO(data)).key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(keys)) == 1
    assert [s.key for s in store.ls("held")] == keys[:1]
    assert store.get_bytes("held", keys[0]) == data


# -- metadata -------------------------------------------------------------------------------------


def test_metadata_is_stored_with_the_object(store: ObjectStore) -> None:
    before = datetime.now(UTC)
    ref = store.put(
        "quarantine",
        CASE_CSV,
        content_type="text/csv; charset=utf-8",
        source="县级窗口:510129 批次 7",
        schema_version="case-v1.2",
        extra={"batch": "b-0007", "rule-count": "3"},
    )
    info = store.stat("quarantine", ref.key)
    assert info.content_type == "text/csv; charset=utf-8"
    assert info.source == "县级窗口:510129 批次 7"
    assert info.schema_version == "case-v1.2"
    assert dict(info.extra) == {"batch": "b-0007", "rule-count": "3"}
    assert before - timedelta(seconds=1) <= info.created <= datetime.now(UTC)
    assert info.size == len(CASE_CSV) and info.stored_size > info.size
    assert info.locator == f"quarantine/{ref.key}" and parse_locator(info.locator) == (
        Zone.QUARANTINE,
        ref.key,
    )
    with store.get("quarantine", ref.key) as reader:
        assert reader.info == info


def test_metadata_refuses_a_resident_id(store: ObjectStore) -> None:
    with pytest.raises(StoreError, match="resident ID") as err:
        store.put("raw", b"x", source=f"holder {RESIDENT_ID}")
    assert err.value.code == "STORE_METADATA_PII"
    assert list(store.ls("raw")) == []


# -- errors for bad input -------------------------------------------------------------------------


def test_missing_object_names_zone_and_key(store: ObjectStore) -> None:
    key = "ab" * 32
    for call in (store.stat, store.get, store.verify, store.delete):
        with pytest.raises(ObjectNotFound) as err:
            call("held", key)
        assert key in str(err.value) and err.value.zone == "held" and err.value.key == key
    assert store.exists("held", key) is False


@pytest.mark.parametrize("key", ["../../etc/passwd", "AB" * 32, "ab" * 31, ""])
def test_malformed_keys_are_refused_before_any_io(store: ObjectStore, key: str) -> None:
    with pytest.raises(StoreError) as err:
        store.stat("raw", key)
    assert err.value.code == "STORE_KEY"


def test_unknown_zone_lists_the_zones(store: ObjectStore) -> None:
    with pytest.raises(StoreError, match="raw, held, quarantine, licenses, reports") as err:
        store.put("archive", b"x")
    assert err.value.code == "STORE_ZONE"


# -- integrity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", list(Zone))
def test_corrupting_stored_bytes_makes_get_fail_naming_the_key(
    store: ObjectStore, raw: RawAccess, zone: Zone
) -> None:
    data = pattern(3 * CHUNK + 100)
    ref = store.put(zone, data)
    stored = bytearray(raw.read(zone, ref.key))
    stored[len(stored) // 2] ^= 0x01
    raw.write(zone, ref.key, bytes(stored))
    with pytest.raises(IntegrityError) as err:
        store.get_bytes(zone, ref.key)
    assert ref.key in str(err.value) and zone.value in str(err.value)
    assert err.value.key == ref.key and err.value.zone == zone.value
    with pytest.raises(IntegrityError):
        store.verify(zone, ref.key)


def test_encrypted_get_stops_at_the_first_bad_chunk(store: ObjectStore, raw: RawAccess) -> None:
    data = pattern(5 * CHUNK)
    ref = store.put("raw", data)
    stored = bytearray(raw.read("raw", ref.key))
    bad_chunk = 2
    stored[header_len(bytes(stored)) + bad_chunk * (CHUNK + TAG_LEN) + 10] ^= 0xFF
    raw.write("raw", ref.key, bytes(stored))
    received = bytearray()
    with store.get("raw", ref.key) as reader, pytest.raises(IntegrityError, match="chunk 2") as err:
        for chunk in reader.chunks():
            received += chunk
    assert bytes(received) == data[: bad_chunk * CHUNK]  # the good chunks before it, nothing after
    assert err.value.key == ref.key


def test_public_get_withholds_the_last_block_until_the_hash_matches(
    store: ObjectStore, raw: RawAccess
) -> None:
    data = pattern(1000)
    ref = store.put("reports", data)
    raw.write("reports", ref.key, data[:-1] + bytes([data[-1] ^ 1]))
    received = bytearray()
    with store.get("reports", ref.key) as reader, pytest.raises(IntegrityError, match="address"):
        for chunk in reader.chunks():
            received += chunk
    assert len(received) < len(data)


def _chunks_of(stored: bytes) -> tuple[bytes, list[bytes]]:
    h = header_len(stored)
    body = stored[h:]
    size = CHUNK + TAG_LEN
    return stored[:h], [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("attack", ["truncate", "drop_last", "reorder", "append", "splice", "header"])
def test_envelope_detects_truncation_reordering_and_splicing(
    store: ObjectStore, raw: RawAccess, attack: str
) -> None:
    data = pattern(4 * CHUNK + 50)
    ref = store.put("held", data)
    other = store.put("held", pattern(4 * CHUNK + 50, seed=9))
    header, chunks = _chunks_of(raw.read("held", ref.key))
    _, other_chunks = _chunks_of(raw.read("held", other.key))
    assert len(chunks) == 5
    if attack == "truncate":  # cut at a chunk boundary: every remaining chunk is intact
        forged = header + b"".join(chunks[:3])
    elif attack == "drop_last":
        forged = header + b"".join(chunks[:-1])
    elif attack == "reorder":
        forged = header + b"".join([chunks[0], chunks[2], chunks[1], *chunks[3:]])
    elif attack == "append":
        forged = header + b"".join([*chunks, chunks[-1]])
    elif attack == "splice":  # a valid chunk of another object under the same data key
        forged = header + b"".join([chunks[0], other_chunks[1], *chunks[2:]])
    else:  # flip a bit of the salt: the header is the AAD of every chunk
        forged = header[:-1] + bytes([header[-1] ^ 1]) + b"".join(chunks)
    raw.write("held", ref.key, forged)
    with pytest.raises(IntegrityError) as err:
        store.verify("held", ref.key)
    assert err.value.key == ref.key


def test_a_whole_object_swapped_for_another_fails_the_address_check(
    store: ObjectStore, raw: RawAccess
) -> None:
    a = store.put("held", pattern(2 * CHUNK, seed=1))
    b = store.put("held", pattern(2 * CHUNK, seed=2))
    raw.write("held", a.key, raw.read("held", b.key))  # valid envelope, wrong content
    with pytest.raises(IntegrityError, match="address") as err:
        store.get_bytes("held", a.key)
    assert err.value.key == a.key


def test_get_to_file_writes_nothing_when_the_object_is_damaged(
    store: ObjectStore, raw: RawAccess, tmp_path: Path
) -> None:
    data = pattern(3 * CHUNK)
    ref = store.put("raw", data)
    good = tmp_path / "good.bin"
    store.get_to_file("raw", ref.key, good)
    assert good.read_bytes() == data
    stored = bytearray(raw.read("raw", ref.key))
    stored[-3] ^= 1
    raw.write("raw", ref.key, bytes(stored))
    bad = tmp_path / "bad.bin"
    with pytest.raises(IntegrityError):
        store.get_to_file("raw", ref.key, bad)
    assert not bad.exists() and list(tmp_path.glob(".bad.bin*")) == []


# -- encryption at rest ---------------------------------------------------------------------------


def test_encrypted_objects_hold_no_plaintext_at_rest(store: ObjectStore, raw: RawAccess) -> None:
    for zone in CITIZEN_ZONES:
        ref = store.put(zone, CASE_CSV, content_type="text/csv")
        stored = raw.read(zone, ref.key)
        assert RESIDENT_ID.encode() not in stored
        assert "张三".encode() not in stored and b"row_guid" not in stored
        meta = raw.metadata_text(zone, ref.key)
        assert RESIDENT_ID not in meta
    # the same search finds the ID where the data is not encrypted, so it would catch a leak
    public = store.put("reports", CASE_CSV)
    assert RESIDENT_ID.encode() in raw.read("reports", public.key)


def test_data_keys_rotate_without_rewriting_old_objects(
    store: ObjectStore, raw: RawAccess, keyring: DataKeyring
) -> None:
    old = store.put("raw", pattern(2 * CHUNK, seed=1))
    old_stored = raw.read("raw", old.key)
    new_key_id = store.rotate_data_key()
    new = store.put("raw", pattern(2 * CHUNK, seed=2))
    assert old.info.data_key_id != new_key_id == new.info.data_key_id
    assert old.info.data_key_id is not None and old.info.data_key_id.encode() in old_stored[:80]
    assert raw.read("raw", old.key) == old_stored
    assert store.get_bytes("raw", old.key) == pattern(2 * CHUNK, seed=1)
    assert store.get_bytes("raw", new.key) == pattern(2 * CHUNK, seed=2)
    # the address key does not rotate with the data key: the same content keeps its key
    assert store.put("raw", pattern(2 * CHUNK, seed=1)).existed is True


def test_a_missing_data_key_is_a_key_store_error_not_corruption(
    store: ObjectStore, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ref = store.put("raw", CASE_CSV)
    endpoint = request.getfixturevalue("moto_endpoint") if backend == "s3" else None
    prefix = store.bucket_prefix if isinstance(store, S3Store) else None
    other = make_store(
        backend, tmp_path, DataKeyring(tmp_path / "other-keys", b"k" * 32), endpoint, prefix=prefix
    )
    with pytest.raises(KeyStoreError, match="not found"):
        other.get_bytes("raw", ref.key)


def test_public_zones_work_without_data_keys(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "folder":
        bare: ObjectStore = FolderStore(tmp_path / "bare", chunk_size=CHUNK)
    else:
        bare = S3Store(
            endpoint=request.getfixturevalue("moto_endpoint"),
            bucket_prefix="bare",
            access_key=S3_ACCESS,
            secret_key=S3_SECRET,
        )
    ref = bare.put("licenses", b"%PDF-1.7")
    assert bare.get_bytes("licenses", ref.key) == b"%PDF-1.7"
    with pytest.raises(ConfigError, match="no data keys"):
        bare.put("raw", b"rows")


# -- listing, deleting, retention -----------------------------------------------------------------


def test_ls_lists_keys_in_order_with_prefix(store: ObjectStore) -> None:
    keys = sorted(store.put("held", pattern(100, seed=i)).key for i in range(6))
    listed = list(store.ls("held"))
    assert [s.key for s in listed] == keys
    assert all(s.stored_size > 100 for s in listed)
    assert [s.key for s in store.ls("held", keys[0][:3])] == [k for k in keys if k.startswith(keys[0][:3])]
    assert list(store.ls("quarantine")) == []


def test_delete_removes_an_object_but_never_a_license(store: ObjectStore) -> None:
    ref = store.put("held", b"child rows")
    store.delete("held", ref.key)
    assert not store.exists("held", ref.key)
    lic = store.put("licenses", b"%PDF license")
    with pytest.raises(StoreError, match="kept for ever") as err:
        store.delete("licenses", lic.key)
    assert err.value.code == "STORE_LOCKED"
    assert store.exists("licenses", lic.key)


def test_retention_for_licenses_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="licenses are kept for ever"):
        FolderStore(tmp_path, retention_days={"licenses": 3650})


def test_sweep_deletes_expired_objects_and_records_each_in_the_ledger(
    store: ObjectStore, db: Database
) -> None:
    held = store.put("held", b"waiting child rows")
    raw_ref = store.put("raw", CASE_CSV)
    report_ref = store.put("reports", b"<html>dq report</html>")
    lic = store.put("licenses", b"%PDF license")
    now = datetime.now(UTC)

    dry = store.sweep(db, now=now + timedelta(days=31), dry_run=True)
    assert [d["key"] for d in dry.deleted] == [held.key] and store.exists("held", held.key)
    with db.session() as s:
        assert ledger.entries(s, RETENTION_STREAM) == []

    report = store.sweep(db, now=now + timedelta(days=31))
    assert report.zones["held"] == {"examined": 1, "expired": 1, "deleted": 1}
    assert report.zones["raw"]["deleted"] == 0 and "licenses" not in report.zones
    assert not store.exists("held", held.key) and store.exists("raw", raw_ref.key)

    later = store.sweep(db, now=now + timedelta(days=10_000))
    assert {d["zone"] for d in later.deleted} == {"raw", "reports"}
    assert store.exists("licenses", lic.key) and not store.exists("reports", report_ref.key)

    with db.session() as s:
        entries = ledger.entries(s, RETENTION_STREAM)
        assert [e.kind for e in entries] == ["object.expired"] * 3
        payloads = [json.loads(e.payload) for e in entries]
        assert [(p["zone"], p["key"]) for p in payloads] == [
            ("held", held.key),
            *sorted([("raw", raw_ref.key), ("reports", report_ref.key)]),
        ]
        assert payloads[0]["retention_days"] == 30 and payloads[0]["backend"] == store.backend
        (chain,) = ledger.verify_chain(s, RETENTION_STREAM)
        assert chain.ok and chain.entries == 3


@pytest.fixture
def ledger_db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database with just the ledger tables (the full migrated tiers run in the test above)."""
    database = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    tables = [Base.metadata.tables[t.__tablename__] for t in (LedgerHead, LedgerEntry)]
    Base.metadata.create_all(database.engine, tables=tables)
    yield database
    database.dispose()


def test_sweep_records_before_it_deletes(store: ObjectStore, ledger_db: Database) -> None:
    db = ledger_db
    ref = store.put("held", b"rows")
    future = datetime.now(UTC) + timedelta(days=400)
    failpoints.enable(FP_SWEEP_AFTER_RECORD, "raise")
    try:
        with pytest.raises(FailpointHit):
            store.sweep(db, now=future, zones=["held"])
    finally:
        failpoints.disable(FP_SWEEP_AFTER_RECORD)
    assert store.exists("held", ref.key)  # crashed between record and delete: recorded, not deleted
    store.sweep(db, now=future, zones=["held"])
    assert not store.exists("held", ref.key)
    with db.session() as s:
        assert [e.kind for e in ledger.entries(s, RETENTION_STREAM)] == ["object.expired"] * 2


def test_sweep_keeps_objects_whose_metadata_is_damaged(
    store: ObjectStore, raw: RawAccess, ledger_db: Database
) -> None:
    ref = store.put("held", b"rows")
    raw.write("held", ref.key, raw.read("held", ref.key), keep_metadata=False)
    with pytest.raises(IntegrityError, match="metadata") as err:
        store.stat("held", ref.key)
    assert err.value.key == ref.key
    report = store.sweep(ledger_db, now=datetime.now(UTC) + timedelta(days=400), zones=["held"])
    assert report.deleted == [] and [s["key"] for s in report.skipped] == [ref.key]
    assert [s.key for s in store.ls("held")] == [ref.key]


def test_a_put_that_dies_before_commit_leaves_no_object(store: ObjectStore, tmp_path: Path) -> None:
    failpoints.enable(FP_BEFORE_COMMIT, "raise")
    try:
        with pytest.raises(FailpointHit):
            store.put("raw", io.BytesIO(pattern(3 * CHUNK)))
    finally:
        failpoints.disable(FP_BEFORE_COMMIT)
    assert list(store.ls("raw")) == []
    if isinstance(store, FolderStore):
        assert list((store.root / ".staging").iterdir()) == []
    else:
        assert [p for p in tmp_path.iterdir() if p.is_file()] == []


def test_check_writable_leaves_nothing_behind(store: ObjectStore) -> None:
    detail = store.check_writable()
    assert "writable" in detail
    for zone in Zone:
        assert list(store.ls(zone)) == []
    if isinstance(store, S3Store):
        assert "object lock" in detail
        for zone in Zone:
            assert list(store.client.list_objects(store.bucket(zone), recursive=True)) == []


# -- backend specifics ----------------------------------------------------------------------------


@pytest.mark.integration
def test_s3_licenses_bucket_is_versioned_with_object_lock(
    moto_endpoint: str, tmp_path: Path, keyring: DataKeyring
) -> None:
    store = make_store("s3", tmp_path, keyring, moto_endpoint)
    assert isinstance(store, S3Store)
    ref = store.put("licenses", b"%PDF-1.7 signed", content_type="application/pdf")
    bucket = store.bucket("licenses")
    assert store.client.get_bucket_versioning(bucket).status == "Enabled"
    assert store.client.get_object_lock_config(bucket).mode == "GOVERNANCE"
    st = store.client.stat_object(bucket, ref.key)
    assert st.metadata.get("x-amz-object-lock-mode") == "GOVERNANCE"
    assert st.version_id
    assert st.content_type == "application/pdf"
    # a licenses bucket someone made without object lock is refused, not silently used
    plain = make_store("s3", tmp_path, keyring, moto_endpoint, prefix="nolock")
    assert isinstance(plain, S3Store)
    plain.client.make_bucket(plain.bucket("licenses"))
    with pytest.raises(StoreError, match="no object lock") as err:
        plain.put("licenses", b"%PDF")
    assert err.value.code == "STORE_NO_OBJECT_LOCK"


def test_folder_files_of_citizen_zones_are_private(tmp_path: Path, keyring: DataKeyring) -> None:
    store = make_store("folder", tmp_path, keyring, None)
    assert isinstance(store, FolderStore)
    ref = store.put("raw", CASE_CSV)
    path = store.path_for("raw", ref.key)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.with_name(path.name + ".meta.json").stat().st_mode & 0o777 == 0o600
    assert int(path.stat().st_mtime) == int(ref.info.created.timestamp())
    lic = store.put("licenses", b"%PDF")
    assert store.path_for("licenses", lic.key).stat().st_mode & 0o777 == 0o644
