"""Signing in at identity and using the token everywhere: the OAuth2 password grant, refresh
rotation with reuse detection, sign-out, the published keys."""

from __future__ import annotations

import httpx
import jwt

from kliniki.settings import DEV_PASSWORD
from tests.scenario import another_patient
from tests.support.stack import Stack

PASSWORD_GRANT = {"grant_type": "password", "username": "alice_receptionist"}


async def sign_in(http: httpx.AsyncClient, stack: Stack, user: str, password: str = DEV_PASSWORD):
    return await http.post(
        f"{stack.url('identity')}/auth/token",
        data={"grant_type": "password", "username": user, "password": password},
    )


async def refresh(http: httpx.AsyncClient, stack: Stack, refresh_token: str):
    return await http.post(
        f"{stack.url('identity')}/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
    )


async def test_sign_in_then_register_a_patient(stack: Stack, http) -> None:
    response = await sign_in(http, stack, "alice_receptionist")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["refresh_token"] and "no-store" in response.headers["cache-control"]

    created = await http.post(
        f"{stack.url('registration')}/patients",
        json=another_patient(),
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["registeredBy"] == "alice_receptionist"


async def test_the_access_token_carries_who_and_which_key(stack: Stack, http) -> None:
    body = (await sign_in(http, stack, "nurse_sarah")).json()
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    keys = (await http.get(f"{stack.url('identity')}/.well-known/jwks.json")).json()["keys"]
    assert header["alg"] == "ES256" and header["kid"] in {k["kid"] for k in keys}
    assert claims["sub"] == "nurse_sarah" and claims["name"] == "Sarah Achieng"
    assert claims["roles"] == ["triage_nurse"]
    assert {"iss", "aud", "iat", "exp", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 900
    # Public keys only: no private member of an EC key ("d") is ever published.
    assert all("d" not in k and k["kty"] == "EC" for k in keys)


async def test_wrong_password_and_unknown_user_get_the_same_401(stack: Stack, http) -> None:
    wrong = await sign_in(http, stack, "dr_smith", "not-the-password")
    unknown = await sign_in(http, stack, "nobody_here", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "the username or password is wrong"
    assert wrong.json() == unknown.json()


async def test_malformed_requests_name_the_problem(stack: Stack, http) -> None:
    url = f"{stack.url('identity')}/auth/token"
    no_grant = await http.post(url, data={"username": "x", "password": "y"})
    assert no_grant.status_code == 422
    assert no_grant.json()["errors"][0]["field"] == "grant_type"
    no_password = await http.post(url, data={"grant_type": "password", "username": "x"})
    assert no_password.status_code == 422 and "password" in no_password.json()["detail"]
    as_json = await http.post(url, json={"grant_type": "password"})
    assert as_json.status_code == 422
    other_grant = await http.post(url, data={"grant_type": "client_credentials"})
    assert other_grant.status_code == 400
    assert other_grant.json()["error"] == "unsupported_grant_type"


async def test_refresh_rotates_and_a_reused_token_revokes_the_session(stack: Stack, http) -> None:
    first = (await sign_in(http, stack, "tom_cashier")).json()
    second = await refresh(http, stack, first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]

    # The retired token presented again (a thief, say): the whole session is revoked ...
    reused = await refresh(http, stack, first["refresh_token"])
    assert reused.status_code == 401
    assert "already used" in reused.json()["detail"]
    # ... so the newest token of that session is refused too.
    after = await refresh(http, stack, second["refresh_token"])
    assert after.status_code == 401


async def test_sign_out_ends_the_session(stack: Stack, http) -> None:
    body = (await sign_in(http, stack, "lisa_pharmacist")).json()
    out = await http.post(
        f"{stack.url('identity')}/auth/logout", data={"refresh_token": body["refresh_token"]}
    )
    assert out.status_code == 204
    assert (await refresh(http, stack, body["refresh_token"])).status_code == 401
