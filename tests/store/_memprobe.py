"""Peak-memory probe: stream one large object through put and get in a fresh process.

Run by ``test_memory.py`` as ``python -m tests.store._memprobe --backend folder --size BYTES ...``;
prints one JSON line with the peak RSS (``VmHWM``) before and after each phase, the phase
times and whether the bytes came back identical (SHA-256 of what was generated vs. what was read).
The data is generated on the fly, so nothing in this process ever holds the whole object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

from core.keys.datakeys import DataKeyring
from core.store import FolderStore, ObjectStore, S3Store

BLOCK = 1024 * 1024


def peak_rss_kib() -> int:
    """Peak resident set size of this process, KiB.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` across ``exec``, so a child
    of a big pytest process would report the parent's peak as its own baseline.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def generate(size: int, digest: hashlib._Hash) -> Iterator[bytes]:
    base = os.urandom(BLOCK)
    sent = 0
    i = 0
    while sent < size:
        n = min(BLOCK, size - sent)
        block = (i.to_bytes(8, "big") + base[8:])[:n]
        digest.update(block)
        sent += n
        i += 1
        yield block


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["folder", "s3"], required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--zone", default="raw")
    ap.add_argument("--endpoint")
    ap.add_argument("--part-size", type=int, default=16 * 1024 * 1024)
    ap.add_argument("--chunk-size", type=int, default=1024 * 1024)
    args = ap.parse_args()

    keyring = DataKeyring(args.root / "keys", os.urandom(32))
    store: ObjectStore
    if args.backend == "folder":
        store = FolderStore(args.root / "store", keyring=keyring, chunk_size=args.chunk_size)
    else:
        store = S3Store(
            endpoint=args.endpoint,
            access_key="testing",
            secret_key="testing",
            bucket_prefix=f"mem{os.getpid()}",
            part_size=args.part_size,
            staging_dir=args.root,
            keyring=keyring,
            chunk_size=args.chunk_size,
        )
    # warm up: every import, key, bucket and buffer pool that a put/get touches
    warm = store.put(args.zone, os.urandom(3 * args.chunk_size + 5))
    store.verify(args.zone, warm.key)
    baseline = peak_rss_kib()

    sent = hashlib.sha256()
    t0 = time.perf_counter()
    ref = store.put(args.zone, generate(args.size, sent))
    put_s = time.perf_counter() - t0
    after_put = peak_rss_kib()

    got = hashlib.sha256()
    received = 0
    t0 = time.perf_counter()
    with store.get(args.zone, ref.key) as reader:
        for chunk in reader.chunks():
            got.update(chunk)
            received += len(chunk)
    get_s = time.perf_counter() - t0
    after_get = peak_rss_kib()

    print(
        json.dumps(
            {
                "backend": args.backend,
                "zone": args.zone,
                "size": args.size,
                "stored_size": ref.info.stored_size,
                "received": received,
                "roundtrip_ok": received == args.size and got.digest() == sent.digest(),
                "baseline_peak_rss_kib": baseline,
                "after_put_peak_rss_kib": after_put,
                "after_get_peak_rss_kib": after_get,
                "put_growth_kib": after_put - baseline,
                "get_growth_kib": after_get - after_put,
                "put_s": round(put_s, 3),
                "get_s": round(get_s, 3),
                "put_mib_s": round(args.size / 2**20 / put_s, 1),
                "get_mib_s": round(args.size / 2**20 / get_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
