"""Identity's HTTP routes: parse, authorize, call the use case, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from identity import keys, service
from identity.keys import KeyRing
from identity.schemas import (
    PasswordChange,
    PasswordReset,
    StaffCreate,
    StaffOut,
    StaffUpdate,
    TokenOut,
)
from kliniki.access import Permission
from kliniki.auth import Principal
from kliniki.problems import InvalidInput, Problem
from kliniki.web import UoW, expected_version, get_kernel, idempotent_create, require

UserIdPath = Annotated[str, Path(max_length=64)]
StaffAdmin = Annotated[Principal, Depends(require(Permission.STAFF_ADMIN))]
# A one-time password's token may do this and nothing else.
PasswordOwner = Annotated[
    Principal, Depends(require(Permission.PASSWORD_CHANGE_OWN, pending_password_change=True))
]

NO_STORE = {"Pragma": "no-cache"}  # Cache-Control: no-store comes from the edge
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class UnsupportedGrant(Problem):
    status = 400
    title = "Unsupported grant type"


def identity_router() -> APIRouter:
    """Sign-in and sign-out, the signing keys, staff administration and one's password."""
    router = APIRouter()

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
        return JSONResponse(body)

    # -- staff administration (admin) and one's own password ---------------------------------------

    @router.get("/staff", response_model=list[StaffOut], tags=["staff"], summary="Staff accounts")
    async def list_staff(
        principal: StaffAdmin,
        uow: UoW,
        response: Response,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        after: Annotated[
            str | None, Query(max_length=64, description="cursor: the last id seen")
        ] = None,
    ) -> list[StaffOut]:
        staff = await service.list_staff(uow.session, limit, after)
        if len(staff) == limit:
            response.headers["Next-Cursor"] = staff[-1].id
        return staff

    @router.post(
        "/staff",
        response_model=StaffOut,
        status_code=201,
        tags=["staff"],
        summary="Create a staff account with a one-time password",
    )
    async def create_staff(
        body: StaffCreate, principal: StaffAdmin, uow: UoW, request: Request
    ) -> JSONResponse:
        return await idempotent_create(request, uow, lambda: service.create_staff(uow, body))

    @router.get("/staff/{user_id}", response_model=StaffOut, tags=["staff"])
    async def get_staff(user_id: UserIdPath, principal: StaffAdmin, uow: UoW) -> StaffOut:
        return await service.get_staff(uow.session, user_id)

    @router.patch(
        "/staff/{user_id}", response_model=StaffOut, tags=["staff"], summary="Change name or roles"
    )
    async def update_staff(
        user_id: UserIdPath, body: StaffUpdate, principal: StaffAdmin, uow: UoW, request: Request
    ) -> StaffOut:
        out = await service.update_staff(
            uow, user_id, body, expected_version(request, body.version)
        )
        await uow.commit()
        return out

    @router.post(
        "/staff/{user_id}/deactivate",
        response_model=StaffOut,
        tags=["staff"],
        summary="A leaver: refused everywhere from now on, sessions ended",
    )
    async def deactivate_staff(user_id: UserIdPath, principal: StaffAdmin, uow: UoW) -> StaffOut:
        out = await service.set_active(uow, user_id, False)
        await uow.commit()
        return out

    @router.post("/staff/{user_id}/reactivate", response_model=StaffOut, tags=["staff"])
    async def reactivate_staff(user_id: UserIdPath, principal: StaffAdmin, uow: UoW) -> StaffOut:
        out = await service.set_active(uow, user_id, True)
        await uow.commit()
        return out

    @router.post(
        "/staff/{user_id}/password",
        response_model=StaffOut,
        tags=["staff"],
        summary="Reset a password to a one-time one (changed at the next sign-in)",
    )
    async def reset_password(
        user_id: UserIdPath, body: PasswordReset, principal: StaffAdmin, uow: UoW
    ) -> StaffOut:
        out = await service.reset_password(uow, user_id, body)
        await uow.commit()
        return out

    @router.post(
        "/me/password",
        response_model=StaffOut,
        tags=["staff"],
        summary="Change one's own password (with the current one)",
    )
    async def change_own_password(
        body: PasswordChange, principal: PasswordOwner, request: Request
    ) -> StaffOut:
        # Its own unit of work: the UoW dependency would refuse a one-time password's token.
        kernel = get_kernel(request)
        request_id = getattr(request.state, "request_id", None)
        async with kernel.unit_of_work(principal.user_id, request_id=request_id) as uow:
            out = await service.change_own_password(
                uow, principal.user_id, principal.session_id, body
            )
            await uow.commit()
        return out

    @router.post(
        "/keys/rotate",
        tags=["auth"],
        summary="Sign with a new key from now on; the old one stays published until its tokens end",
    )
    async def rotate_keys(
        request: Request,
        principal: Annotated[Principal, Depends(require(Permission.KEYS_ROTATE))],
    ) -> dict[str, str]:
        kernel = get_kernel(request)
        key = await keys.rotate(kernel)
        async with kernel.unit_of_work(principal.user_id) as uow:
            await uow.audit("ROTATE", "SIGNING_KEY", key.kid)
            await uow.commit()
        return {"kid": key.kid}

    return router
