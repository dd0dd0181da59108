"""Tables of the identity database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Identity, Index, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kliniki.db import Versioned, service_metadata, utcnow


class Base(DeclarativeBase):
    metadata = service_metadata(staff_directory=False)  # identity holds the accounts


class StaffAccount(Versioned, Base):
    """A member of staff who can sign in."""

    __tablename__ = "staff_accounts"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # the user id: nurse_sarah
    name: Mapped[str] = mapped_column(Text, nullable=False)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # A one-time password (reset, bootstrap): the next sign-in may only change it.
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    password_changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )


class AuthSession(Base):
    """One sign-in: the chain of refresh tokens it hands out, revoked as a whole."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class RefreshToken(Base):
    """A refresh token, stored as its SHA-256 only; used once, then retired."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    """A key identity signs access tokens with: the newest active one signs; a new one is
    published ahead of signing, older ones stay published until their tokens have expired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(Text, primary_key=True)  # RFC 7638 thumbprint
    private_pem: Mapped[str] = mapped_column(Text, nullable=False)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    # Signs from this moment (published before it, so every service knows it by then); the
    # keys before it retire then.
    active_from: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class FailedSignIn(Base):
    """A failed sign-in for a username (known or not): the lockout counts these."""

    __tablename__ = "failed_sign_ins"
    __table_args__ = (Index("ix_failed_sign_ins_username", "username", "failed_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(Text, nullable=False)
    failed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
