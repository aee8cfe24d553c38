#!/usr/bin/env bash
# As the official image: `redis-server ARGS` runs as the redis user with protected mode off.
set -euo pipefail
if [ "${1:-}" = redis-server ] || [ "${1:0:1}" = - ]; then
  [ "${1:-}" = redis-server ] && shift
  chown -R redis:redis /data
  exec gosu redis redis-server --protected-mode no --dir /data "$@"
fi
exec "$@"
