"""A patient's complete history across the services, from each one's audit trail (admins).

    make audit-history PATIENT=patient_3f9c...

Asks every running service's ``GET /audit?patientId=`` with an admin token (minted locally
with the development secret; pass TOKEN=... to use a real one) and prints one timeline.
"""

from __future__ import annotations

import os
import sys

import httpx

from kliniki.settings import DEV_PASSWORD, SERVICE_PORTS

HOST = os.environ.get("KLINIKI_HOST", "127.0.0.1")


def sign_in_as_admin() -> str:
    """The development admin (or KLINIKI_PASSWORD) signs in at identity."""
    response = httpx.post(
        f"http://{HOST}:{SERVICE_PORTS['identity']}/auth/token",
        data={
            "grant_type": "password",
            "username": os.environ.get("KLINIKI_USER", "admin"),
            "password": os.environ.get("KLINIKI_PASSWORD", DEV_PASSWORD),
        },
    )
    if response.status_code != 200:
        sys.exit(f"sign-in at identity refused: {response.text}; set TOKEN=<an admin's token>")
    return response.json()["access_token"]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: audit_history.py <patient id>")
    patient_id = sys.argv[1]
    token = os.environ.get("TOKEN") or sign_in_as_admin()
    timeline = []
    for service, port in SERVICE_PORTS.items():
        response = httpx.get(
            f"http://{HOST}:{port}/audit",
            params={"patientId": patient_id, "limit": 1000},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        timeline += [{**r, "service": service} for r in response.json()]
    for record in sorted(timeline, key=lambda r: r["occurredAt"]):
        print(
            f"{record['occurredAt']}  {record['service']:<12} {record['actorId']:<20} "
            f"{record['action']:<10} {record['resource']} {record['resourceId']}"
            + (f"  ({record['details']})" if record["details"] else "")
        )


if __name__ == "__main__":
    main()
