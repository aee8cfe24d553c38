#!/usr/bin/env bash
# First start of PostgreSQL (official image or the test stand-in): tongban's own role and database
# beside Airflow's metadata database. The password comes from TONGBAN_DB_PASSWORD (.env).
set -euo pipefail
: "${TONGBAN_DB_PASSWORD:?set TONGBAN_DB_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -q \
  -v pw="$TONGBAN_DB_PASSWORD" <<'SQL'
CREATE ROLE tongban LOGIN PASSWORD :'pw';
CREATE DATABASE tongban OWNER tongban;
SQL
