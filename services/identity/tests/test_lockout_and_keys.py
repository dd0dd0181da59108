"""Guessing passwords gets a username locked out (known or not, the same answer); the signing
key rotates without cutting anyone off; production refuses the development password."""

from __future__ import annotations

import statistics
import time
import uuid

import httpx
import jwt
from identity import domain

from kliniki.settings import DEV_PASSWORD
from tests.support.stack import Stack, auth, signed_token
from tests.support.waiting import eventually


async def attempt(
    http: httpx.AsyncClient, stack: Stack, user: str, password: str
) -> httpx.Response:
    return await http.post(
        f"{stack.url('identity')}/auth/token",
        data={"grant_type": "password", "username": user, "password": password},
    )


async def test_five_failures_lock_a_username_real_or_not(stack: Stack, http) -> None:
    real = f"lock_{uuid.uuid4().hex[:8]}"
    created = await http.post(
        f"{stack.url('identity')}/staff",
        json={"id": real, "name": "Lock Test", "roles": ["cashier"], "password": "Right-one-2026"},
        headers=auth("admin"),
    )
    assert created.status_code == 201, created.text
    unknown = f"ghost_{uuid.uuid4().hex[:8]}"
    timings: dict[str, list[float]] = {real: [], unknown: []}
    answers: dict[str, list[httpx.Response]] = {real: [], unknown: []}
    for _ in range(5):
        for user in (real, unknown):
            started = time.perf_counter()
            answers[user].append(await attempt(http, stack, user, "wrong-password-1"))
            timings[user].append(time.perf_counter() - started)
    for user in (real, unknown):
        assert [r.status_code for r in answers[user]] == [401] * 5
    # The same answer for both: nothing tells whether the username exists.
    assert answers[real][-1].json() == answers[unknown][-1].json()

    # The sixth try is refused before the password is even looked at, even the right one.
    for user, password in ((real, "Right-one-2026"), (unknown, "whatever-it-is")):
        locked = await attempt(http, stack, user, password)
        assert locked.status_code == 429, locked.text
        assert locked.headers["content-type"] == "application/problem+json"
        assert 0 < int(locked.headers["retry-after"]) <= 60
        assert locked.json()["detail"].startswith("too many failed sign-ins")
    # Other usernames are not affected.
    assert (await attempt(http, stack, "mike_lab_tech", DEV_PASSWORD)).status_code == 200
    print(
        "\nwrong password, median ms: known user "
        f"{statistics.median(timings[real]) * 1000:.1f}, unknown user "
        f"{statistics.median(timings[unknown]) * 1000:.1f}"
    )


async def test_key_rotation_keeps_old_tokens_working_and_new_ones_carry_the_new_kid(
    stack: Stack, http
) -> None:
    identity = stack.url("identity")
    old = (await attempt(http, stack, "alice_receptionist", DEV_PASSWORD)).json()
    old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    rotated = await http.post(f"{identity}/keys/rotate", headers=auth("admin"))
    assert rotated.status_code == 200, rotated.text
    new_kid = rotated.json()["kid"]
    assert new_kid != old_kid
    # Published at once, signing a moment later (every service has fetched it by then).
    kids = {k["kid"] for k in (await http.get(f"{identity}/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= kids

    async def kid_of_a_new_token() -> str:
        body = (await attempt(http, stack, "alice_receptionist", DEV_PASSWORD)).json()
        return jwt.get_unverified_header(body["access_token"])["kid"]

    assert await eventually(kid_of_a_new_token, lambda k: k == new_kid, timeout=30, interval=1)
    new = (await attempt(http, stack, "alice_receptionist", DEV_PASSWORD)).json()
    # Both are accepted by a service: the new kid makes it fetch the key set again.
    for token in (old["access_token"], new["access_token"]):
        response = await http.get(
            f"{stack.url('registration')}/visits?status=REGISTERED",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
    # A key that is not (or no longer) published: refused.
    stranger = domain.generate_private_key()
    foreign = signed_token(
        {"sub": "alice_receptionist", "name": "A", "roles": ["receptionist"]},
        key=stranger,
        kid=domain.public_jwk(stranger)["kid"],
    )
    response = await http.get(
        f"{stack.url('registration')}/visits?status=REGISTERED",
        headers={"Authorization": f"Bearer {foreign}"},
    )
    assert response.status_code == 401


async def test_production_refuses_the_development_password(stack: Stack, http) -> None:
    """A production identity on an empty database seeds nobody: the development password of
    deploy/staff.yaml's staff signs nobody in; the bootstrap admin must change theirs."""
    name = "identity-production"
    database = stack.database("identity_production")
    overrides = {
        "KLINIKI_ENV": "production",
        "KLINIKI_DATABASE_NAME": database,
        "KLINIKI_BOOTSTRAP_ADMIN_PASSWORD": "bootstrap-only-once-77",
    }
    stack.migrate(["identity"], **overrides)
    proc = stack.start("identity", name=name, **overrides)
    stack.wait_ready(proc)
    try:
        url = f"{proc.url}/auth/token"
        sarah = await http.post(
            url, data={"grant_type": "password", "username": "nurse_sarah", "password": "kliniki"}
        )
        assert sarah.status_code == 401
        admin = await http.post(
            url,
            data={
                "grant_type": "password",
                "username": "admin",
                "password": "bootstrap-only-once-77",
            },
        )
        assert admin.status_code == 200 and admin.json()["password_change_required"] is True
        staff = await http.get(
            f"{proc.url}/staff", headers={"Authorization": f"Bearer {admin.json()['access_token']}"}
        )
        assert staff.status_code == 403 and "one-time password" in staff.json()["detail"]
    finally:
        proc.stop()
