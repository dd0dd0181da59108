"""The app factory: every service is ``create_service_app(...)`` plus its own routes and handlers.

It gives each service the same outside: /healthz, /readyz, /metrics, problem+json errors,
request ids, structured logs, a request-size limit, and the same inside: the broker connection,
the outbox relay and the event consumers, started and stopped with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kliniki import tracing
from kliniki.access import Permission, visible
from kliniki.audit import history
from kliniki.auth import Principal
from kliniki.consumer import EventConsumer, Subscription
from kliniki.contracts.identity import STAFF_EVENTS
from kliniki.db import is_database_unavailable
from kliniki.directory import StaffDirectory, StaffHook, staff_subscriptions
from kliniki.edge import EdgeMiddleware
from kliniki.kernel import Kernel
from kliniki.logs import configure_logging
from kliniki.outbox import OutboxRelay
from kliniki.paging import PageQuery
from kliniki.problems import InvalidInput, Problem
from kliniki.settings import ServiceSettings
from kliniki.web import UoW, answer, require

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# SQLSTATEs of text PostgreSQL cannot hold (a NUL character, ``\u0000`` in JSON): the input's fault.
TEXT_REFUSED_SQLSTATES = {"22021", "22P05"}

HTTP_ERRORS = Counter("kliniki_http_errors_total", "Unhandled errors (500)", ["route"])

BackgroundTask = Callable[[Kernel], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable queue ``<service>.<purpose>`` and what it handles."""

    purpose: str
    subscriptions: list[Subscription]


def problem_response(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        body = exc.to_body(request.url.path)
        principal = getattr(request.state, "principal", None)
        if exc.record and "current" in body and principal is not None:
            body["current"] = visible(exc.record, body["current"], principal.roles)
        return JSONResponse(
            body, status_code=exc.status, media_type=PROBLEM_JSON, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "Invalid input", detail, errors=errors)

    @app.exception_handler(StaleDataError)
    async def on_stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return problem_response(
            409,
            "Conflict",
            "someone else changed this record at the same moment; reload it and try again",
        )

    @app.exception_handler(IntegrityError)
    async def on_integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Only a concurrent request can get here: our own rules are checked before writing.
        log.warning("integrity conflict on %s: %s", request.url.path, exc.orig)
        return problem_response(
            409, "Conflict", "a concurrent change conflicts with this one; reload and try again"
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase
        response = problem_response(exc.status_code, title, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        route = getattr(request.scope.get("route"), "path", request.url.path)
        HTTP_ERRORS.labels(route).inc()
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "Internal error",
            "the server failed; nothing was saved. Quote the request id to IT.",
            requestId=getattr(request.state, "request_id", None),
        )

    @app.exception_handler(DBAPIError)
    @app.exception_handler(ConnectionError)
    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) in TEXT_REFUSED_SQLSTATES:
            return problem_response(
                422, "Invalid input", "text may not contain NUL (\\u0000) characters"
            )
        if is_database_unavailable(exc):  # restarting, failing over: over in a moment
            log.warning("database unavailable on %s: %s", request.url.path, exc)
            response = problem_response(
                503,
                "Service unavailable",
                "the database is unavailable for a moment; try again (a retry with the same "
                "Idempotency-Key never saves twice)",
            )
            response.headers["Retry-After"] = "2"
            return response
        return await on_crash(request, exc)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Database and broker reachable, every consumer consuming")
    async def readyz(request: Request) -> JSONResponse:
        kernel: Kernel = request.app.state.kernel
        checks: dict[str, str] = {}
        try:
            async with kernel.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("select 1")), timeout=2)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {exc.__class__.__name__}"
        checks["broker"] = "ok" if kernel.broker.is_connected else "unavailable"
        # Up but not taking events (its queues cannot be declared, say): not ready, and why.
        stalled = [c for c in request.app.state.event_consumers if not c.consuming]
        checks["consumers"] = (
            "ok"
            if not stalled
            else "not consuming: "
            + "; ".join(f"{c.queue_name} ({c.last_error or 'starting'})" for c in stalled)
        )
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def _audit_router() -> APIRouter:
    """A patient's or a record's audit trail in this service (admin)."""
    router = APIRouter(tags=["audit"])

    @router.get("/audit", summary="Audit records of a patient or a resource")
    async def read_audit(
        principal: Annotated[Principal, Depends(require(Permission.AUDIT_READ))],
        uow: UoW,
        request: Request,
        page: PageQuery,
        patient_id: Annotated[str | None, Query(alias="patientId", max_length=64)] = None,
        resource_id: Annotated[str | None, Query(alias="resourceId", max_length=64)] = None,
    ) -> JSONResponse:
        """Oldest first; clinical content only for clinical readers (kliniki.access)."""
        if not patient_id and not resource_id:
            raise InvalidInput("patientId", "name a patientId or a resourceId")
        found = await history(
            uow.session,
            uow.tables,
            patient_id=patient_id,
            resource_id=resource_id,
            page=page,
            roles=principal.roles,
        )
        return answer(principal, "AUDIT", found.items, page=found, request=request)

    return router


def create_service_app(
    settings: ServiceSettings,
    metadata: MetaData,
    routers: Sequence[APIRouter],
    consumers: Sequence[ConsumerSpec] = (),
    background: Sequence[BackgroundTask] = (),
    startup: Sequence[BackgroundTask] = (),
    staff_hooks: Sequence[StaffHook] = (),
    title: str | None = None,
    description: str = "",
    public_paths: Sequence[str] = (),
    app_class: type[FastAPI] = FastAPI,
) -> FastAPI:
    """The service's app; ``public_paths`` take writes without a token (identity's sign-in);
    ``app_class`` a FastAPI of the service's own (the notifier serves its sockets first)."""
    configure_logging(settings)
    tracing.configure(settings.service_name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kernel = Kernel.build(settings, metadata)
        app.state.kernel = kernel
        for step in startup:  # before the first request: seeds, keys
            await step(kernel)
        specs = list(consumers)
        if isinstance(kernel.directory, StaffDirectory):
            # Every service keeps its staff directory from identity's events (<service>.staff).
            try:
                await kernel.directory.seed()
                await kernel.directory.load()
            except Exception as exc:  # the database is not up yet: the reload loop catches up
                if not is_database_unavailable(exc):
                    raise
                log.warning("staff directory not loaded yet: %s", exc)
            specs.append(ConsumerSpec("staff", staff_subscriptions(kernel.directory, staff_hooks)))
        relay = OutboxRelay(
            kernel.engine,
            kernel.tables,
            kernel.broker,
            settings.asyncpg_dsn,
            settings.outbox_poll_seconds,
            settings.outbox_max_attempts,
        )
        relay.attach(kernel.sessionmaker)  # this process's commits wake it in memory
        event_consumers = [
            EventConsumer(
                settings,
                kernel.sessionmaker,
                kernel.tables,
                kernel.broker,
                c.purpose,
                c.subscriptions,
            )
            for c in specs
        ]
        app.state.event_consumers = event_consumers
        jwks = kernel.verifier.jwks
        if jwks is not None:  # the signing keys before the first request (if reachable)
            await jwks.refresh(force=True)
        tasks = [
            asyncio.create_task(kernel.broker.run(), name="broker-connect"),
            *([_supervised("jwks", jwks.run)] if jwks is not None else []),
            *(
                [_supervised("staff-directory", kernel.directory.run)]
                if isinstance(kernel.directory, StaffDirectory)
                else []
            ),
            _supervised("outbox-relay", relay.run),
            *(_supervised(c.queue_name, c.run) for c in event_consumers),
            *(_supervised(task.__name__, functools.partial(task, kernel)) for task in background),
        ]
        log.info("%s started on port %s", settings.service_name, settings.http_port)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await kernel.broker.close()
            await kernel.engine.dispose()

    app = app_class(
        title=title or f"Kliniki {settings.service_name}",
        description=description,
        version="0.1.0",
        lifespan=lifespan,
    )
    # What this service listens to (docs/events.md is checked against it).
    app.state.consumer_specs = list(consumers)
    if "staff_directory" in metadata.tables:
        app.state.consumer_specs.append(ConsumerSpec("staff", staff_subscriptions_of(metadata)))
    _install_error_handlers(app)
    tracing.instrument_app(app)
    app.add_middleware(EdgeMiddleware, settings=settings, public_paths=frozenset(public_paths))
    app.include_router(_health_router())
    app.include_router(_audit_router())
    for router in routers:
        app.include_router(router)
    return app


def staff_subscriptions_of(metadata: MetaData) -> list[Subscription]:
    """The routing keys of the staff consumer, for the docs check (handlers unused)."""

    async def unused(uow: object, event: object) -> None:
        return None

    return [Subscription("identity", key, unused) for key in STAFF_EVENTS]


def _supervised(name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    """Run a background loop forever: if it crashes (broker gone mid-declare, say), restart it."""

    async def supervise() -> None:
        delay = 0.5
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s crashed; restarting in %.1fs", name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    return asyncio.create_task(supervise(), name=name)
