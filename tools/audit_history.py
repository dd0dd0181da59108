"""A patient's complete history across the services, from each one's audit trail (admins).

    make audit-history PATIENT=patient_3f9c...

Asks every running service's ``GET /audit?patientId=`` with an admin token (minted locally
with the development secret; pass TOKEN=... to use a real one) and prints one timeline,
including who read the patient's clinical records (READ).
"""

from __future__ import annotations

import os
import sys

import httpx

from kliniki.auth import mint_token
from kliniki.settings import SERVICE_PORTS, ServiceSettings

HOST = os.environ.get("KLINIKI_HOST", "127.0.0.1")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: audit_history.py <patient id>")
    patient_id = sys.argv[1]
    token = os.environ.get("TOKEN") or mint_token(
        ServiceSettings(service_name="audit").jwt_secret, "admin", "Administrator", ["admin"]
    )
    timeline = []
    for service, port in SERVICE_PORTS.items():
        params = {"patientId": patient_id, "limit": "200"}
        while True:  # page by page (X-Next-Cursor)
            response = httpx.get(
                f"http://{HOST}:{port}/audit",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            timeline += [{**r, "service": service} for r in response.json()]
            if "x-next-cursor" not in response.headers:
                break
            params["cursor"] = response.headers["x-next-cursor"]
    for record in sorted(timeline, key=lambda r: r["occurredAt"]):
        print(
            f"{record['occurredAt']}  {record['service']:<12} {record['actorId']:<20} "
            f"{record['action']:<10} {record['resource']} {record['resourceId']}"
            + (f"  ({record['details']})" if record["details"] else "")
        )


if __name__ == "__main__":
    main()
