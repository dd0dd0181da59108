"""Registration rules, free of FastAPI and SQLAlchemy."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

import phonenumbers

DEFAULT_PHONE_REGION = "KE"  # Kenyan numbers may be written locally: 0712 345 678
MAX_AGE_YEARS = 130
# Letters of any script, with the spaces, hyphens, apostrophes and dots names carry.
_PHONE_CHARACTERS = re.compile(r"^\+?[\d\s\-().]+$")
_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*\.?$")


class Gender(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class InsuranceType(StrEnum):
    """How the visit is paid: cash (incl. mobile money at the till) or a payer."""

    CASH = "CASH"
    SHA = "SHA"  # Social Health Authority, Kenya's public insurer since 2024
    NHIF = "NHIF"  # legacy cards still presented
    PRIVATE = "PRIVATE"
    CORPORATE = "CORPORATE"
    WAIVER = "WAIVER"


class VisitStatus(StrEnum):
    REGISTERED = "REGISTERED"
    IN_TRIAGE = "IN_TRIAGE"
    WAITING_CONSULTATION = "WAITING_CONSULTATION"
    IN_CONSULTATION = "IN_CONSULTATION"
    WAITING_LAB = "WAITING_LAB"
    WAITING_PHARMACY = "WAITING_PHARMACY"
    WAITING_PAYMENT = "WAITING_PAYMENT"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


CLOSED_VISIT_STATUSES = {VisitStatus.COMPLETED, VisitStatus.CANCELLED}

# The order a visit moves through; events only ever move it forward.
VISIT_PROGRESS = [
    VisitStatus.REGISTERED,
    VisitStatus.IN_TRIAGE,
    VisitStatus.WAITING_CONSULTATION,
    VisitStatus.IN_CONSULTATION,
    VisitStatus.WAITING_LAB,
    VisitStatus.WAITING_PHARMACY,
    VisitStatus.WAITING_PAYMENT,
    VisitStatus.COMPLETED,
]


def advances(current: VisitStatus, new: VisitStatus) -> bool:
    """Whether an event may move a visit from ``current`` to ``new`` (never backwards)."""
    if current in CLOSED_VISIT_STATUSES:
        return False
    return VISIT_PROGRESS.index(new) > VISIT_PROGRESS.index(current)


class AppointmentType(StrEnum):
    FOLLOW_UP = "FOLLOW_UP"
    REVIEW = "REVIEW"
    PROCEDURE = "PROCEDURE"


class PaymentStatus(StrEnum):
    UNPAID = "UNPAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    WAIVED = "WAIVED"


def normalize_person_name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be empty")
    if len(value) > 100:
        raise ValueError("must be at most 100 characters")
    if not _NAME.match(value):
        raise ValueError("may contain only letters, spaces, hyphens, apostrophes and dots")
    return value


def normalize_phone(value: str) -> str:
    """Parse a phone number (Kenyan by default) and return it in E.164 form."""
    if not _PHONE_CHARACTERS.match(value):
        # phonenumbers would read letters as a keypad ("CALL" -> 2255): refuse them instead.
        raise ValueError("may contain only digits, spaces, '+', '-', '.' and brackets")
    try:
        number = phonenumbers.parse(value, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"is not a phone number ({exc._msg})") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number; write it as +254712345678 or 0712345678")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def age_on(date_of_birth: dt.date, today: dt.date) -> int:
    years = today.year - date_of_birth.year
    if (today.month, today.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def check_date_of_birth(date_of_birth: dt.date, today: dt.date) -> dt.date:
    if date_of_birth > today:
        raise ValueError("is in the future")
    if age_on(date_of_birth, today) > MAX_AGE_YEARS:
        raise ValueError(f"gives an age over {MAX_AGE_YEARS} years")
    return date_of_birth


def format_op_number(value: int) -> str:
    """OP numbers as the clinic writes them: ``OP12345`` (shown to staff as ``OP#12345``)."""
    return f"OP{value}"


# Fields of a visit that only the departments' events set (billing settles, clinical
# discharges). The desk may send them only as they already are.
DEPARTMENT_OWNED_VISIT_FIELDS = {
    "status": "follows the departments' events (billing settles, clinical discharges); "
    "the desk may only cancel a visit that has not started",
    "payment_status": "is set by billing when the invoice is paid",
    "total_amount": "is the invoice's total, set by billing",
    "completed_at": "is set when the visit is completed",
}


def check_desk_visit_change(
    current: dict[str, object], changes: dict[str, object]
) -> list[tuple[str, str]]:
    """What is wrong with a desk's change to a visit, as (field, message) pairs.

    ``current`` holds the visit's fields (snake_case), ``changes`` what the desk sent.
    """
    errors: list[tuple[str, str]] = []
    status = VisitStatus(str(current["status"]))
    new_status = changes.get("status")
    cancelling = new_status == VisitStatus.CANCELLED and status != VisitStatus.CANCELLED
    for field, rule in DEPARTMENT_OWNED_VISIT_FIELDS.items():
        if field not in changes or (field == "status" and cancelling):
            continue
        if field == "completed_at":
            # A confirmation of a completed visit; the server's time is kept.
            if status is not VisitStatus.COMPLETED:
                errors.append((field, rule))
        elif changes[field] != current[field]:
            errors.append((field, rule))
    if cancelling and status is not VisitStatus.REGISTERED:
        errors.append(
            (
                "status",
                f"only a visit that has not started can be cancelled; this one is {status.value}",
            )
        )
    if cancelling and not changes.get("cancellation_reason"):
        errors.append(("cancellation_reason", "say why the visit is cancelled"))
    if changes.get("cancellation_reason") and not cancelling:
        errors.append(("cancellation_reason", "is given only with status CANCELLED"))
    if status is VisitStatus.CANCELLED and set(changes) - {"status"}:
        errors.append(("status", "the visit is CANCELLED and cannot change"))
    return errors
