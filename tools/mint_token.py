"""Print an access token for a member of staff: ``make token USER=nurse_sarah``.

Signs in at identity (``KLINIKI_IDENTITY_URL``, http://127.0.0.1:8008 by default, so with
``make run`` going) with the OAuth2 password grant, using ``KLINIKI_PASSWORD`` or the
development password of deploy/staff.yaml's staff. The token lives 15 minutes, like any other.
"""

from __future__ import annotations

import argparse
import os
import sys

import httpx

from kliniki.settings import DEV_PASSWORD, ServiceSettings


def main() -> None:
    parser = argparse.ArgumentParser(description="Sign in at identity and print the token.")
    parser.add_argument("user", help="a user id, e.g. nurse_sarah")
    args = parser.parse_args()
    settings = ServiceSettings(service_name="token")
    password = os.environ.get("KLINIKI_PASSWORD", DEV_PASSWORD)
    url = f"{settings.identity_url.rstrip('/')}/auth/token"
    try:
        response = httpx.post(
            url,
            data={"grant_type": "password", "username": args.user, "password": password},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        sys.exit(f"identity is not answering at {url} ({exc}); is `make run` going?")
    if response.status_code != 200:
        detail = response.json().get("detail") if response.content else response.reason_phrase
        sys.exit(f"sign-in of {args.user!r} refused ({response.status_code}): {detail}")
    print(response.json()["access_token"])


if __name__ == "__main__":
    main()
