#!/usr/bin/env bash
# airflow-init: what a deployment needs before the other services start. Safe to run again.
#   1. refuse empty secrets (they come from .env; see .env.example)
#   2. Airflow metadata migrations (airflow db migrate)
#   3. the admin user of the API server (simple auth manager passwords file)
#   4. the PKCS#11 token for seal keys (SoftHSM2), when TONGBAN_KEYS__BACKEND=pkcs11 and none exists
#   5. tongban init: its migrations, keys, and the PKI — a sample one, or the CA imported from
#      TONGBAN_PKI_IMPORT_DIR (root.pem, issuing.pem[, issuing.key.pem, root.key.pem]) with
#      TONGBAN_PKI__SAMPLE=false
#   6. the object-store buckets: versioned, the licenses bucket with object lock
#   7. tongban doctor (database, keys, store, PKI): a failure stops the deployment here
set -euo pipefail

step() { printf '{"event": "airflow_init.step", "step": "%s", "detail": "%s"}\n' "$1" "${2:-}"; }
need() {
  local v
  for v in "$@"; do
    if [ -z "${!v:-}" ]; then
      printf '{"event": "airflow_init.failed", "reason": "%s is empty: set it in .env (see .env.example)"}\n' "$v" >&2
      exit 2
    fi
  done
}

need AIRFLOW__DATABASE__SQL_ALCHEMY_CONN AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY \
  AIRFLOW__CORE__FERNET_KEY _AIRFLOW_WWW_USER_USERNAME _AIRFLOW_WWW_USER_PASSWORD \
  TONGBAN_DATABASE_URL TONGBAN_KEYS__PASSPHRASE
if [ "${TONGBAN_STORE__BACKEND:-folder}" = s3 ]; then need TONGBAN_STORE__S3_ACCESS_KEY TONGBAN_STORE__S3_SECRET_KEY; fi

step airflow-migrate
airflow db migrate >/dev/null

step admin-user "${_AIRFLOW_WWW_USER_USERNAME}"
python /opt/tongban/bin/bootstrap.py admin-user

if [ "${TONGBAN_KEYS__BACKEND:-file}" = pkcs11 ]; then
  label=${TONGBAN_KEYS__PKCS11_TOKEN_LABEL:-tongban}
  need TONGBAN_KEYS__PKCS11_PIN
  if [[ "${TONGBAN_KEYS__PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}" == *softhsm* ]]; then
    if softhsm2-util --show-slots 2>/dev/null | grep -Eq "^[[:space:]]*Label:[[:space:]]+${label}[[:space:]]*$"; then
      step pkcs11-token "present: ${label}"
    else
      need TONGBAN_SOFTHSM_SO_PIN
      softhsm2-util --init-token --free --label "$label" \
        --so-pin "$TONGBAN_SOFTHSM_SO_PIN" --pin "$TONGBAN_KEYS__PKCS11_PIN" >/dev/null
      step pkcs11-token "created: ${label}"
    fi
  else
    step pkcs11-token "module ${TONGBAN_KEYS__PKCS11_MODULE}: the token is managed outside (HSM)"
  fi
fi

step tongban-init
tongban init --json >/dev/null

import_dir=${TONGBAN_PKI_IMPORT_DIR:-/opt/tongban/import}
marker="${TONGBAN_DATA_DIR:-/opt/tongban/var}/.ca-imported"
if [ -f "$import_dir/root.pem" ] && [ -f "$import_dir/issuing.pem" ] && [ ! -f "$marker" ]; then
  args=(--root "$import_dir/root.pem" --issuing "$import_dir/issuing.pem")
  [ -f "$import_dir/issuing.key.pem" ] && args+=(--issuing-key "$import_dir/issuing.key.pem")
  [ -f "$import_dir/root.key.pem" ] && args+=(--root-key "$import_dir/root.key.pem")
  [ -n "${TONGBAN_PKI_IMPORT_KEY_PASSWORD:-}" ] && args+=(--key-password-env TONGBAN_PKI_IMPORT_KEY_PASSWORD)
  tongban pki import-ca "${args[@]}"
  touch "$marker"
  tongban pki init --json >/dev/null
  step pki "imported the CA from ${import_dir}"
else
  step pki "$(tongban pki show --json | python -c 'import json,sys; d=json.load(sys.stdin); print("sample" if d.get("sample", True) else "imported")' 2>/dev/null || echo unknown)"
fi

if [ "${TONGBAN_STORE__BACKEND:-folder}" = s3 ]; then
  step buckets
  python /opt/tongban/bin/bootstrap.py buckets
fi

step doctor
tongban doctor
step done
