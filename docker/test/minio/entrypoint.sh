#!/usr/bin/env bash
# MinIO's `server DIR [--console-address ...]` → moto's S3 server on 0.0.0.0:9000 (in memory).
set -euo pipefail
if [ "${1:-}" = server ] || [ "${1:-}" = minio ]; then
  exec /opt/moto/bin/python -m moto.server -H 0.0.0.0 -p 9000
fi
exec "$@"
