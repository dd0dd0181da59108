"""Walk the whole access matrix against the running services: every route x every role, and
every route with no token, an expired token, another key's token and an unsigned one."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import jwt
import pytest
from identity import domain as identity_domain

from kliniki.access import Role
from kliniki.settings import DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEV_JWT_SECRET
from tests.support.routes import Route, all_routes
from tests.support.stack import Stack, signed_token

ROUTES = all_routes()


def role_token(role: str, secret: str | None = None, **claims: object) -> str:
    """Signed with the run's key (what identity issues); with ``secret``, HS256 with it."""
    now = dt.datetime.now(dt.UTC)
    body = {
        "sub": f"walker_{role}",
        "name": f"Walker ({role})",
        "roles": [role],
        "iat": now,
        "exp": now + dt.timedelta(minutes=30),
        **claims,
    }
    if secret is not None:
        return jwt.encode(
            {"iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE, **body}, secret, algorithm="HS256"
        )
    return signed_token(body)


BAD_TOKENS = {
    "no token": None,
    "expired": role_token("admin", exp=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)),
    "another key": role_token("admin", secret="a-completely-different-key-32-bytes!!"),
    "alg none": jwt.encode(
        {
            "sub": "mallory",
            "roles": ["admin"],
            "exp": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        },
        None,
        algorithm="none",
    ),
    # Signed well enough to fool a careless verifier: each must still get 401.
    "the public development secret (HS256)": role_token("admin", secret=DEV_JWT_SECRET),
    "another audience": role_token("admin", aud="some-other-app"),
    "another issuer": role_token("admin", iss="https://evil.example.org"),
    "ten-year lifetime": role_token("admin", exp=dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)),
    "a key that is not published": signed_token(
        {"sub": "walker_admin", "name": "W", "roles": ["admin"]},
        key=(stranger := identity_domain.generate_private_key()),
        kid=identity_domain.public_jwk(stranger)["kid"],
    ),
    "a user in no directory": role_token("admin", sub="mallory"),
    "an empty sub": role_token("admin", sub=""),
}


async def call(http: httpx.AsyncClient, stack: Stack, route: Route, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if route.method in ("POST", "PATCH", "PUT") else None
    response = await http.request(
        route.method, stack.url(route.service) + route.url_path(), json=body, headers=headers
    )
    return response.status_code


def test_every_route_names_what_it_requires() -> None:
    """Only reading the lab's catalogue and one's own notifications need no particular role."""
    open_to_all_staff = {str(r) for r in ROUTES if r.permission is None}
    assert open_to_all_staff == {
        "lab GET /lab-tests",
        "notifier GET /notifications",
        "notifier POST /notifications/read",
        "notifier GET /presence",
    }


async def test_every_route_refuses_bad_tokens(stack: Stack, http) -> None:
    failures = []
    for route in ROUTES:
        statuses = await asyncio.gather(*(call(http, stack, route, t) for t in BAD_TOKENS.values()))
        for (kind, _), status in zip(BAD_TOKENS.items(), statuses, strict=True):
            if status != 401:
                failures.append(f"{route} with {kind}: {status}")
    assert not failures, failures
    print(f"walked {len(ROUTES)} routes x {len(BAD_TOKENS)} bad tokens")


@pytest.mark.parametrize("role", [r.value for r in Role])
async def test_every_route_lets_in_exactly_the_roles_of_the_matrix(
    stack: Stack, http, role: str
) -> None:
    token = role_token(role)
    failures = []
    statuses = await asyncio.gather(*(call(http, stack, route, token) for route in ROUTES))
    for route, status in zip(ROUTES, statuses, strict=True):
        allowed = route.allowed_roles is None or role in route.allowed_roles
        if allowed and status in (401, 403):
            failures.append(f"{route}: {role} should be let in, got {status}")
        if not allowed and status != 403:
            failures.append(f"{route}: {role} should get 403, got {status}")
        if status >= 500:
            failures.append(f"{route}: {role} got a server error {status}")
    assert not failures, failures
