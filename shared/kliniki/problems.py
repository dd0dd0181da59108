"""Errors a request can end with, rendered as RFC 9457 problem+json by the app factory.

Domain code raises these (they carry no FastAPI types), routes let them propagate, and the
app factory's handlers turn them into responses with a clear ``detail``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Problem(Exception):
    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers = headers or {}

    @property
    def type_uri(self) -> str:
        slug = self.title.lower().replace(" ", "-")
        return f"https://kliniki.dev/problems/{slug}"

    def to_body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"


class TooManyRequests(Problem):
    status = 429
    title = "Too many requests"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class NotFound(Problem):
    status = 404
    title = "Not found"


class Conflict(Problem):
    """A stale version or a state that forbids the change; ``current`` carries the record."""

    status = 409
    title = "Conflict"


class InvalidInput(Problem):
    """Input that parses but breaks a rule; ``errors`` names each field and rule."""

    status = 422
    title = "Invalid input"

    def __init__(self, field: str, message: str, **extra: Any) -> None:
        super().__init__(
            f"{field}: {message}", errors=[{"field": field, "message": message}], **extra
        )

    @classmethod
    def of(cls, errors: Sequence[tuple[str, str]], **extra: Any) -> InvalidInput:
        """Several fields refused at once, so whoever typed them fixes all in one go."""
        if not errors:
            raise ValueError("InvalidInput.of needs at least one (field, message)")
        problem = cls(*errors[0], **extra)
        problem.detail = "; ".join(f"{field}: {message}" for field, message in errors)
        problem.extra["errors"] = [{"field": f, "message": m} for f, m in errors]
        return problem


class PayloadTooLarge(Problem):
    status = 413
    title = "Payload too large"


def check_version(expected: int | None, current_version: int, current: Any) -> None:
    """Refuse an update that names a version other than the one stored (no lost updates)."""
    if expected is None:
        raise InvalidInput(
            "version", "required: send the version you read, as If-Match or in the body"
        )
    if expected != current_version:
        raise Conflict(
            f"the record is at version {current_version}, your change was based on "
            f"version {expected}; reload it and apply your change again",
            current=current,
        )
