"""A child process for crash and concurrency drills: issues N numbered business licenses.

    python -m tests.licenses.issue_child N [--offset K] [--batch B] [--prefix P]

Settings come from the environment (TONGBAN_DATA_DIR, TONGBAN_DATABASE_URL,
TONGBAN_KEYS__PASSPHRASE); failpoints from TONGBAN_FAILPOINTS. Prints one JSON line per outcome.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.settings import load_settings
from licenses import IssueRequest, open_registry
from tests.licenses.conftest import business_request


def requests(n: int, offset: int = 0, prefix: str = "case") -> list[IssueRequest]:
    return [business_request(1_000_000 + offset + i, key=f"{prefix}-{offset + i}:business") for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--prefix", default="case")
    args = ap.parse_args()
    registry = open_registry(load_settings(), batch_size=args.batch)
    for o in registry.issue_many(requests(args.n, args.offset, args.prefix)):
        doc: dict[str, object] = {"key": o.request.idempotency_key}
        if o.license is not None:
            doc |= {"license_id": o.license.license_id, "existed": o.license.existed}
        else:
            doc |= {"error": getattr(o.error, "code", "?")}
        sys.stdout.write(json.dumps(doc) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
