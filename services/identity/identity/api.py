"""Identity's HTTP routes: parse, authorize, call the use case, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from identity import service
from identity.keys import KeyRing
from identity.schemas import TokenOut
from kliniki.problems import InvalidInput, Problem
from kliniki.web import get_kernel

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PROBLEM = {"content": {"application/problem+json": {}}}


class UnsupportedGrant(Problem):
    status = 400
    title = "Unsupported grant type"


@router.post(
    "/auth/token",
    response_model=TokenOut,
    tags=["auth"],
    summary="Sign in (OAuth2 password grant) or refresh (refresh_token grant)",
    responses={
        400: {"description": "Unsupported grant type", **PROBLEM},
        401: {"description": "Wrong credentials or refresh token", **PROBLEM},
        429: {"description": "Too many failed sign-ins (see Retry-After)", **PROBLEM},
    },
)
async def token(
    request: Request,
    grant_type: Annotated[str, Form(max_length=50, description="password or refresh_token")],
    username: Annotated[str | None, Form(max_length=100)] = None,
    password: Annotated[str | None, Form(max_length=256)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str, Form(max_length=500)] = "",
) -> JSONResponse:
    kernel = get_kernel(request)
    request_id = getattr(request.state, "request_id", None)
    if grant_type == "password":
        missing = [
            (f, "required for grant_type=password")
            for f, v in (("username", username), ("password", password))
            if not v
        ]
        if missing:
            raise InvalidInput.of(missing)
        assert username is not None and password is not None
        answer = await service.sign_in(kernel, username, password, request_id)
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise InvalidInput("refresh_token", "required for grant_type=refresh_token")
        answer = await service.refresh(kernel, refresh_token, request_id)
    else:
        raise UnsupportedGrant(
            f"grant_type {grant_type[:50]!r} is not supported: use password or refresh_token",
            error="unsupported_grant_type",
        )
    return JSONResponse(answer.model_dump(), headers=NO_STORE)


@router.post(
    "/auth/logout",
    status_code=204,
    tags=["auth"],
    summary="Sign out: revoke the session of a refresh token",
)
async def logout(
    request: Request, refresh_token: Annotated[str, Form(min_length=1, max_length=200)]
) -> Response:
    await service.sign_out(
        get_kernel(request), refresh_token, getattr(request.state, "request_id", None)
    )
    return Response(status_code=204)


@router.get(
    "/.well-known/jwks.json",
    tags=["auth"],
    summary="The public keys access tokens are signed with (JWKS)",
)
async def jwks(request: Request) -> JSONResponse:
    ring: KeyRing = get_kernel(request).extras["keys"]
    body: dict[str, Any] = ring.jwks()
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=60"})
