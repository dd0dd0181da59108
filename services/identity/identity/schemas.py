"""Identity's request and response models.

The token endpoint speaks OAuth2 (RFC 6749: snake_case form fields and answer); the staff
administration speaks the system's camelCase JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from kliniki.access import Role
from kliniki.schemas import ApiModel, PlainName, StrictApiModel

UserId = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{1,62}$", strip_whitespace=True)
]
# Shown to colleagues in every service (presence, worklists): plain text, as tokens require.
Name = Annotated[PlainName, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenOut(BaseModel):
    """RFC 6749 section 5.1."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str
    password_change_required: bool = Field(
        default=False,
        description="The password is a one-time one: this token may only change it "
        "(POST /me/password).",
    )


class StaffOut(ApiModel):
    id: str
    name: str
    roles: list[str]
    active: bool
    must_change_password: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class StaffCreate(StrictApiModel):
    id: UserId = Field(description="The user id staff sign in with, e.g. nurse_jane")
    name: Name
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    password: Password = Field(description="A one-time password, changed at first sign-in")


class StaffUpdate(StrictApiModel):
    name: Name | None = None
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=len(Role))
    version: int | None = None


class PasswordReset(StrictApiModel):
    password: Password = Field(description="A one-time password, changed at next sign-in")


class PasswordChange(StrictApiModel):
    current_password: Password
    new_password: Password
