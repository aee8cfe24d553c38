#!/usr/bin/env bash
# Entry point of the tongban image (under dumb-init). The first argument picks the program:
#   an Airflow subcommand (api-server, scheduler, dag-processor, triggerer, celery, db, …) → airflow …
#   airflow-init → the one-shot initialisation (docker/airflow-init.sh)
#   tongban …, bash, python, or any other program → run as given
set -euo pipefail

case "${1:-}" in
  api-server | scheduler | dag-processor | triggerer | celery | db | dags | tasks | connections | \
  jobs | config | version | variables | pools | info | providers | plugins | assets | backfill | \
  cheat-sheet | standalone | kerberos | rotate-fernet-key)
    exec airflow "$@"
    ;;
  airflow-init)
    shift
    exec /opt/tongban/bin/airflow-init.sh "$@"
    ;;
  "")
    exec tongban --help
    ;;
  *)
    exec "$@"
    ;;
esac
