# ruff: noqa: T201 - an example prints what it does
"""An example department client of the tongban sharing API (电子证照共享接口).

    tongban init && tongban api client sandbox && tongban api serve &
    python examples/sharing_client.py --holder 92510129MA0000A1XX --holder-type 001

Gets a token (OAuth2 client credentials), searches a holder's licenses with a purpose and a use
cause, reads one license's metadata, downloads an annotated copy (加注件) and verifies it. Every
call is recorded in the use ledger; the ``use`` object of each answer says where.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import httpx


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="http://127.0.0.1:8700")
    p.add_argument("--client-id", default="c-sandbox-dayi")
    p.add_argument("--secret", default="tongban-sandbox-secret-0001")
    p.add_argument("--holder", required=True, help="holder code (CZZTDM)")
    p.add_argument("--holder-type", default="001", help="holder code type (CZZTDMLX)")
    p.add_argument("--purpose", default="510129-GS-001")
    p.add_argument("--cause", default="办理食品经营许可（示例）")
    p.add_argument("--out", default="copy.pdf")
    a = p.parse_args()

    with httpx.Client(base_url=a.base, timeout=30) as http:
        tok = http.post(
            "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(a.client_id, a.secret)
        )
        tok.raise_for_status()
        http.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"

        r = http.post(
            "/v1/licenses:search",
            json={
                "holder_code": a.holder,
                "holder_code_type": a.holder_type,
                "purpose": a.purpose,
                "use_cause": a.cause,
            },
        )
        if r.status_code != 200:
            print(r.json(), file=sys.stderr)  # problem+json: code, title, detail
            return 1
        found = r.json()
        print(f"{found['count']} license(s); ledger {found['use']}")
        if not found["licenses"]:
            return 0
        lic = found["licenses"][0]
        meta = http.get(
            f"/v1/licenses/{lic['license_id']}", params={"purpose": a.purpose, "use_cause": a.cause}
        )
        print(meta.json()["license"]["name"], meta.json()["license"]["status_name"])

        until = (dt.date.today() + dt.timedelta(days=7)).isoformat()
        copy = http.post(
            f"/v1/licenses/{lic['license_id']}/copies",
            json={"purpose": a.purpose, "use_cause": a.cause, "until": until},
        )
        copy.raise_for_status()
        with open(a.out, "wb") as fh:
            fh.write(copy.content)
        print(f"annotated copy → {a.out} ({copy.headers['X-Use-Ledger']})")

        check = http.post(
            "/v1/verify",
            files={"file": (a.out, copy.content, "application/pdf")},
            data={"purpose": a.purpose, "use_cause": "核验加注件"},
        )
        rep = check.json()
        print(f"verify: valid={rep['valid']} kind={rep['kind']} copy={rep['copy']} reasons={rep['reasons']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
