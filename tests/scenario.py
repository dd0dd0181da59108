"""The scenario's payloads (../shared/scenario.md), shared by the tests and the demo."""

from __future__ import annotations

import uuid
from typing import Any

JOHN_DOE: dict[str, Any] = {
    "firstName": "John",
    "lastName": "Doe",
    "gender": "MALE",
    "age": 35,
    "phoneNumber": "+254712345678",
    "insuranceType": "CASH",
}


def another_patient(**changes: Any) -> dict[str, Any]:
    """A patient like John Doe with a unique last name, so tests can tell them apart."""
    suffix = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])
    return {**JOHN_DOE, "lastName": f"Doe-{suffix.capitalize()}", **changes}
