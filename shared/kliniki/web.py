"""FastAPI dependencies every route uses: who is asking, may they, and their unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kliniki import tracing
from kliniki.access import Permission, Stage, allowed, visible
from kliniki.auth import Principal, bearer_token
from kliniki.edge import Authentication
from kliniki.kernel import Kernel
from kliniki.paging import Page
from kliniki.problems import Forbidden, InvalidInput, Unauthorized
from kliniki.uow import UnitOfWork, fingerprint, to_json

MAX_IDEMPOTENCY_KEY_LENGTH = 255


def get_kernel(request: Request) -> Kernel:
    kernel: Kernel = request.app.state.kernel
    return kernel


def authenticate(
    request: Request, authorization: str | None, *, pending_password_change: bool = False
) -> Principal:
    """The bearer token's staff member, as the edge (kliniki.edge) verified it once, before the
    body was read: signature, issuer, audience, lifetime, and a ``sub`` this service knows as
    an active member of staff. A one-time password's token only where allowed."""
    auth: Authentication | None = getattr(request.state, "auth", None)
    if auth is None or bearer_token(authorization) is None:
        raise Unauthorized("send a bearer token: 'Authorization: Bearer <token>'")
    if auth.principal is None:
        raise Unauthorized(f"the token was refused: {auth.error}")
    if auth.principal.password_change_required and not pending_password_change:
        raise Forbidden(
            "you signed in with a one-time password: choose your own first "
            "(POST /me/password at identity)"
        )
    request.state.principal = auth.principal
    return auth.principal


# The dependencies below are ``async def`` though they never wait: FastAPI runs a plain ``def``
# dependency in a worker thread, two thread hand-offs per request for a few dict lookups.


async def current_principal(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    return authenticate(request, authorization)


async def principal_with_one_time_password(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """Like ``current_principal``, but a one-time password's token is let in too."""
    return authenticate(request, authorization, pending_password_change=True)


def require(
    permission: Permission,
    stage: Stage | None = None,
    *,
    pending_password_change: bool = False,
) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency: the caller, if one of their roles holds ``permission`` (else 403).
    ``pending_password_change``: a one-time password's token is let in (only POST /me/password)."""
    who = principal_with_one_time_password if pending_password_change else current_principal

    # A default, not Annotated[...]: annotations are strings here and ``who`` is local.
    async def check(principal: Principal = Depends(who)) -> Principal:
        if not allowed(principal.roles, permission, stage):
            raise Forbidden(
                f"your roles ({', '.join(sorted(principal.roles)) or 'none'}) may not "
                f"{permission.value.replace(':', ' ')}"
                + (f" on the {stage.value} worklist" if stage else "")
            )
        return principal

    # Read by the access tests, which walk every route against the matrix (a function takes
    # attributes at run time; mypy knows no way to declare them on one).
    check.permission = permission  # type: ignore[attr-defined]
    check.stage = stage  # type: ignore[attr-defined]
    return check


async def unit_of_work(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> AsyncIterator[UnitOfWork]:
    kernel = get_kernel(request)
    request_id = getattr(request.state, "request_id", None)
    async with kernel.unit_of_work(principal.user_id, request_id=request_id) as uow:
        # The route's span when tracing, else the caller's traceparent as it came.
        uow.traceparent = tracing.current_traceparent(getattr(request.state, "traceparent", None))
        yield uow


UoW = Annotated[UnitOfWork, Depends(unit_of_work)]


def expected_version(request: Request, body_version: int | None) -> int | None:
    """The version an update was based on: ``If-Match`` (``"3"`` or ``W/"3"``) or the body."""
    header = request.headers.get("if-match")
    if header:
        raw = header.strip().removeprefix("W/").strip('"')
        if not raw.isdigit():
            raise InvalidInput("If-Match", f'expected a record version such as "3", got {header!r}')
        return int(raw)
    return body_version


async def idempotent_create(
    request: Request,
    uow: UnitOfWork,
    create: Callable[[], Awaitable[BaseModel | dict[str, Any] | tuple[BaseModel, int]]],
    status_code: int = 201,
    kind: str | None = None,
) -> JSONResponse:
    """Run ``create`` and commit, honouring ``Idempotency-Key``: a repeat gets the first answer.

    ``create`` returns the response body, or (body, status code) when it decides the status.
    The answer shows the caller what their roles may see of a ``kind`` record (``answer``).
    """

    def shown(body: Any) -> Any:
        return body if kind is None else visible(kind, body, request.state.principal.roles)

    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInput(
            "Idempotency-Key", f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
        )
    path = request.url.path
    digest = ""  # the request's fingerprint, needed only to tell a retry under a key
    if key is not None:
        digest = fingerprint(await request.body())
        stored = await uow.stored_response(key, request.method, path, digest)
        if stored is not None:
            return JSONResponse(
                shown(stored[1]), status_code=stored[0], headers={"Idempotent-Replayed": "true"}
            )
    outcome = await create()
    if isinstance(outcome, tuple):
        outcome, status_code = outcome
    result = to_json(outcome)
    status, body = await uow.commit_with_response(
        key, request.method, path, digest, status_code, result
    )
    headers = {"Idempotent-Replayed": "true"} if body is not result else {}
    return JSONResponse(shown(body), status_code=status, headers=headers)


def answer(
    principal: Principal,
    kind: str,
    body: Any,
    *,
    page: Page | None = None,
    request: Request | None = None,
    status_code: int = 200,
) -> JSONResponse:
    """The answer as the caller may see it: a ``kind`` record (or list) without the clinical
    fields their roles may not read (``access.visible``). A page of a list carries the next
    page's cursor (``kliniki.paging``)."""
    response = JSONResponse(visible(kind, to_json(body), principal.roles), status_code=status_code)
    if page is not None and page.next_cursor and request is not None:
        query = request.url.remove_query_params("cursor").include_query_params(
            cursor=page.next_cursor
        )
        response.headers["X-Next-Cursor"] = page.next_cursor
        response.headers["Link"] = f'<?{query.query}>; rel="next"'
    return response
