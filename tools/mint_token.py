"""Print a token for a member of the staff directory: ``make token USER=nurse_sarah``.

Signed with ``KLINIKI_JWT_SECRET`` (the local development secret by default); for local runs,
tests and the demo only. In production tokens come from the hospital's identity provider.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from kliniki.auth import mint_token
from kliniki.settings import ServiceSettings
from kliniki.staff import load_staff


def main() -> None:
    parser = argparse.ArgumentParser(description="Mint a local token for a staff member.")
    parser.add_argument("user", help="a user id from deploy/staff.yaml, e.g. nurse_sarah")
    parser.add_argument("--hours", type=float, default=12.0)
    args = parser.parse_args()
    settings = ServiceSettings(service_name="token")
    member = load_staff(settings.staff_file).get(args.user)
    if member is None:
        known = ", ".join(s.id for s in load_staff(settings.staff_file).staff)
        sys.exit(f"unknown user {args.user!r}; the staff directory has: {known}")

    print(
        mint_token(
            settings.jwt_secret,
            member.id,
            member.name,
            member.roles,
            lifetime=dt.timedelta(hours=args.hours),
        )
    )


if __name__ == "__main__":
    main()
