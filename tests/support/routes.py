"""Every HTTP route of every service, with the permission it requires (from the code)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from kliniki.access import Permission, Stage, roles_for
from kliniki.settings import SERVICE_PORTS

PUBLIC_PATHS = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/docs/oauth2-redirect",
    # identity's sign-in, sign-out and public keys: they take no bearer token by design
    "/auth/token",
    "/auth/logout",
    "/.well-known/jwks.json",
}


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str
    permission: Permission | None  # None: any authenticated staff member
    stage: Stage | None

    @property
    def allowed_roles(self) -> frozenset[str] | None:
        if self.permission is None:
            return None
        return frozenset(r.value for r in roles_for(self.permission, self.stage))

    def url_path(self) -> str:
        """The path with every parameter filled by a placeholder id."""
        path = self.path
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + "no_such_id" + path[end + 1 :]
        return path

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def _requirement(dependant: Dependant) -> tuple[Permission, Stage | None] | None:
    for dep in dependant.dependencies:
        call = dep.call
        if call is not None and hasattr(call, "permission"):
            return call.permission, call.stage
        found = _requirement(dep)
        if found:
            return found
    return None


def _flatten(routes: list[Any]) -> list[Any]:
    """APIRoutes, including those of included routers (kept nested by recent FastAPI)."""
    flat = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        flat.extend(_flatten(nested.routes) if nested is not None else [route])
    return flat


def all_routes() -> list[Route]:
    routes = []
    for service in SERVICE_PORTS:
        app = importlib.import_module(f"{service}.main").create_app()
        for route in _flatten(app.routes):
            if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
                continue
            requirement = _requirement(route.dependant)
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                routes.append(Route(service, method, route.path, *(requirement or (None, None))))
    return routes
