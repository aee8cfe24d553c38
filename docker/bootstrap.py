"""Steps of ``airflow-init`` that need Python (run inside the tongban image).

    python bootstrap.py admin-user   # the API server's simple-auth-manager passwords file
    python bootstrap.py buckets      # every zone's bucket, versioned; the licenses bucket with object lock

Both are idempotent and print one JSON line per action.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def say(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")


def admin_user() -> None:
    """Write ``{"<user>": "<password>"}`` to the passwords file the API server reads (mode 600)."""
    path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    user = os.environ["_AIRFLOW_WWW_USER_USERNAME"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({user: os.environ["_AIRFLOW_WWW_USER_PASSWORD"]}, f)
    tmp.replace(path)
    say("airflow_init.admin_user", user=user, file=str(path))


def buckets() -> None:
    """Create the zones' buckets the way tongban does, and switch versioning on for every one."""
    from minio.commonconfig import ENABLED
    from minio.versioningconfig import VersioningConfig

    from core.settings import Settings
    from core.store import Zone, open_store

    settings = Settings()
    store = open_store(settings)
    for zone in Zone:
        name = store._ensure_bucket(zone)  # type: ignore[attr-defined]  # creates, with object lock for licenses
        client = store.client  # type: ignore[attr-defined]
        if client.get_bucket_versioning(name).status != ENABLED:
            client.set_bucket_versioning(name, VersioningConfig(ENABLED))
        status = client.get_bucket_versioning(name).status
        say("airflow_init.bucket", zone=zone.value, bucket=name, versioning=status)


if __name__ == "__main__":
    {"admin-user": admin_user, "buckets": buckets}[sys.argv[1]]()
