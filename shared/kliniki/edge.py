"""The edge of every service: what happens to a request before any route sees it.

One pure ASGI middleware, in this order:
1. a request id: the client's ``X-Request-ID`` when it is a short id of a known format, else a
   new one (it goes into logs, the audit and events' ``correlationid``: never client junk);
2. a W3C ``traceparent`` only when well formed;
3. per-client limits (429 with ``Retry-After``): failed authentications, and writes;
4. the bearer token, verified once (routes read the result): a write without a valid token
   gets 401 before a byte of its body is read;
5. the body limit, counted as bytes arrive (chunked bodies too), 413 past it;
6. headers that keep patient data out of caches and scripts, and the request metrics.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import Histogram
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kliniki.auth import InvalidToken, Principal, bearer_token
from kliniki.db import is_database_unavailable
from kliniki.settings import ServiceSettings

if TYPE_CHECKING:
    from kliniki.kernel import Kernel

REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PROBLEM_JSON = "application/problem+json"
# Interactive API docs load their scripts; every other answer may carry patient data.
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]

HTTP_REQUESTS = Histogram(
    "kliniki_http_request_duration_seconds",
    "HTTP request duration by route",
    ["method", "route", "status"],
)


class DirectoryUnavailable(Exception):
    """The staff directory could not be read (the database is away for a moment)."""


@dataclass(frozen=True)
class Authentication:
    """What the edge made of a request's bearer token (``scope['state']['auth']``)."""

    principal: Principal | None
    error: str | None  # why the token was refused; None when absent or valid


def _problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class RateLimits:
    """Moving-window limits per client; an empty setting turns a limit off."""

    def __init__(self, auth_failures: str, writes: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.auth_failures: RateLimitItem | None = parse(auth_failures) if auth_failures else None
        self.writes: RateLimitItem | None = parse(writes) if writes else None

    async def hit(self, item: RateLimitItem | None, client: str) -> int | None:
        """Count one use; seconds to wait if that went over the limit, else None."""
        if item is None or await self._limiter.hit(item, client):
            return None
        reset, _remaining = await self._limiter.get_window_stats(item, client)
        return max(1, int(reset - time.time()) + 1)


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        settings: ServiceSettings,
        public_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.public_paths = public_paths
        self.limits = RateLimits(settings.rate_limit_auth_failures, settings.rate_limit_writes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id", "")
        if not REQUEST_ID.fullmatch(request_id):
            request_id = str(uuid.uuid4())
        traceparent = headers.get("traceparent")
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["traceparent"] = (
            traceparent if traceparent and TRACEPARENT.fullmatch(traceparent) else None
        )
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = {"code": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                out = MutableHeaders(scope=message)
                out["x-request-id"] = request_id
                for name, value in SECURITY_HEADERS:
                    if name == b"content-security-policy" and scope["path"] in DOCS_PATHS:
                        continue
                    out.raw.append((name, value))
            await send(message)

        early = await self._refuse_early(scope, headers, state)
        if early is not None:
            await early(scope, receive, send_with_headers)
        else:
            await self.app(scope, self._counting(receive), send_with_headers)
        route = getattr(scope.get("route"), "path", "unmatched")
        HTTP_REQUESTS.labels(scope["method"], route, status["code"]).observe(
            time.perf_counter() - started
        )

    async def _refuse_early(
        self, scope: Scope, headers: dict[str, str], state: dict[str, object]
    ) -> JSONResponse | None:
        """A response that ends the request before the app runs, or None to go on."""
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return self._too_large()
        client = scope["client"][0] if scope.get("client") else "unknown"
        token = bearer_token(headers.get("authorization"))
        principal: Principal | None = None
        if token is not None:
            try:
                principal = await self._verify(scope["app"].state.kernel, token)
                state["auth"] = Authentication(principal, None)
            except DirectoryUnavailable:
                return _problem(
                    503,
                    "Service unavailable",
                    "the staff directory cannot be read for a moment (database); try again",
                    {"Retry-After": "2"},
                )
            except InvalidToken as exc:
                state["auth"] = Authentication(None, str(exc))
                # Only refused tokens count: staff behind the same clinic router keep working.
                wait = await self.limits.hit(self.limits.auth_failures, client)
                if wait is not None:
                    return _too_many(wait, "too many refused tokens from this address")
        writes = scope["method"] in WRITE_METHODS and scope["path"] not in self.public_paths
        if not writes:
            return None
        if principal is None:
            auth = state.get("auth")
            reason = auth.error if isinstance(auth, Authentication) else None
            return _problem(
                401,
                "Unauthorized",
                f"the token was refused: {reason}"
                if reason
                else "send a bearer token: 'Authorization: Bearer <token>'",
                {"WWW-Authenticate": "Bearer"},
            )
        wait = await self.limits.hit(self.limits.writes, principal.user_id)
        if wait is not None:
            return _too_many(wait, "too many changes in a short time; slow down")
        return None

    @staticmethod
    async def _verify(kernel: Kernel, token: str) -> Principal:
        """Signature and claims (a key not seen yet is fetched from the JWKS URL first), then
        the staff directory: a ``sub`` that is not an active member is refused."""
        principal = await kernel.verifier.verify_async(token)
        if kernel.directory is not None:
            try:
                active = await kernel.directory.is_active(principal.user_id)
            except Exception as exc:
                if is_database_unavailable(exc):
                    raise DirectoryUnavailable from exc
                raise
            if not active:
                raise InvalidToken(f"{principal.user_id!r} is not an active member of staff here")
        return principal

    def _counting(self, receive: Receive) -> Receive:
        """``receive`` that refuses a body once it grows past the limit, however it is sent."""
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413, self._too_large_detail)
            return message

        return counted

    @property
    def _too_large_detail(self) -> str:
        return f"request bodies are limited to {self.max_body} bytes"

    def _too_large(self) -> JSONResponse:
        return _problem(413, "Payload too large", self._too_large_detail)


def _too_many(wait: int, detail: str) -> JSONResponse:
    return _problem(
        429, "Too many requests", f"{detail}; try again in {wait} s", {"Retry-After": str(wait)}
    )
