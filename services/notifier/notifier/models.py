"""Tables of the notifier database: stored notifications and what it knows of visits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Identity, Index, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kliniki.db import service_metadata


class Base(DeclarativeBase):
    metadata = service_metadata()


class Notification(Base):
    """One frame for one person (``recipient_user_id``) or for everyone holding one of
    ``recipient_roles``. Its id is the cursor a client resumes from."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user", "recipient_user_id", "id"),
        Index("ix_notifications_roles", "recipient_roles", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    recipient_user_id: Mapped[str | None] = mapped_column(Text)
    recipient_roles: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    patient_id: Mapped[str | None] = mapped_column(Text, index=True)
    visit_id: Mapped[str | None] = mapped_column(Text)
    source_event_id: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class NotificationRead(Base):
    """A user has read a notification (role-wide notifications are read per person)."""

    __tablename__ = "notification_reads"

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class VisitView(Base):
    """What the notifier knows of a visit, from several services' events, to word frames
    ("John Doe (OP#12345)") and to address them (everyone who worked on the visit)."""

    __tablename__ = "visit_views"

    visit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    patient_name: Mapped[str | None] = mapped_column(Text)
    op_number: Mapped[str | None] = mapped_column(Text)
    registered_by: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    triage_assigned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    triage_assignee: Mapped[str | None] = mapped_column(Text)
    # patient_registered goes out once both registration and triage have spoken.
    registration_announced: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    staff_involved: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
