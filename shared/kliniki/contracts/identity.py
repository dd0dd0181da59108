"""The events identity publishes on ``identity.events`` (data of version 1).

Every service keeps its own staff directory from these (event-carried state transfer): who
exists, their name and roles, and whether they may still sign in. Never a password or a hash.
"""

from __future__ import annotations

from typing import Any

from kliniki.contracts import Contract
from kliniki.schemas import ApiModel

STAFF_CREATED = "staff.created"
STAFF_UPDATED = "staff.updated"  # name or roles changed
STAFF_DEACTIVATED = "staff.deactivated"  # a leaver: refused everywhere from now on
STAFF_REACTIVATED = "staff.reactivated"

STAFF_EVENTS = (STAFF_CREATED, STAFF_UPDATED, STAFF_DEACTIVATED, STAFF_REACTIVATED)


class StaffData(ApiModel):
    """A staff member as every service keeps them."""

    user_id: str
    name: str
    roles: list[str]
    active: bool
    version: int


CONTRACTS: list[Contract[Any]] = [Contract("identity", key, StaffData) for key in STAFF_EVENTS]
