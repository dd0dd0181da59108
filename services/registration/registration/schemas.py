"""Registration's request and response models (camelCase on the wire)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Self

from pydantic import Field, field_validator, model_validator

from kliniki.schemas import ApiModel, StrictApiModel
from registration.domain import (
    MAX_AGE_YEARS,
    AppointmentType,
    Gender,
    InsuranceType,
    PaymentStatus,
    VisitStatus,
    check_date_of_birth,
    normalize_person_name,
    normalize_phone,
)


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class _Demographics(StrictApiModel):
    @field_validator("first_name", "last_name", check_fields=False)
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else normalize_person_name(value)

    @field_validator("phone_number", check_fields=False)
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)

    @field_validator("gender", "insurance_type", mode="before", check_fields=False)
    @classmethod
    def _case(cls, value: object) -> object:
        return _upper(value)

    @field_validator("date_of_birth", check_fields=False)
    @classmethod
    def _dob(cls, value: dt.date | None) -> dt.date | None:
        return None if value is None else check_date_of_birth(value, dt.date.today())


class PatientCreate(_Demographics):
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    gender: Gender
    age: int | None = Field(default=None, ge=0, le=MAX_AGE_YEARS)
    date_of_birth: dt.date | None = None
    phone_number: str | None = Field(default=None, max_length=32)
    insurance_type: InsuranceType
    insurance_number: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _age_or_birth_date(self) -> Self:
        if self.age is None and self.date_of_birth is None:
            raise ValueError("give the patient's age or dateOfBirth")
        return self


class PatientCorrection(_Demographics):
    """Fields to correct; name the version you read (body or If-Match)."""

    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    gender: Gender | None = None
    age: int | None = Field(default=None, ge=0, le=MAX_AGE_YEARS)
    date_of_birth: dt.date | None = None
    phone_number: str | None = Field(default=None, max_length=32)
    insurance_type: InsuranceType | None = None
    insurance_number: str | None = Field(default=None, max_length=64)
    version: int | None = None


class VisitOut(ApiModel):
    id: str
    patient_id: str
    op_number: str
    status: VisitStatus
    payment_type: str
    payment_status: PaymentStatus
    total_amount: Decimal | None
    opened_at: dt.datetime
    completed_at: dt.datetime | None
    discharge_notes: str | None
    cancellation_reason: str | None = None
    opened_by: str
    version: int


class PatientOut(ApiModel):
    id: str
    op_number: str
    first_name: str
    last_name: str
    full_name: str
    gender: Gender
    date_of_birth: dt.date | None
    age: int | None
    phone_number: str | None
    insurance_type: InsuranceType
    insurance_number: str | None
    registered_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    visit: VisitOut | None = Field(default=None, description="The open visit, if any.")


class VisitUpdate(StrictApiModel):
    """What the desk may change on a visit.

    Status, payment status, total and completion time are the departments' facts (billing
    settles, clinical discharges): they may be sent only as they already are (the scenario's
    cashier confirms a settled visit). The one status the desk sets is CANCELLED, with a
    reason, for a visit that has not started.
    """

    status: VisitStatus | None = None
    payment_status: PaymentStatus | None = None
    total_amount: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    completed_at: dt.datetime | None = None
    discharge_notes: str | None = Field(default=None, max_length=4000)
    cancellation_reason: str | None = Field(default=None, min_length=3, max_length=500)
    version: int | None = None

    @field_validator("status", "payment_status", mode="before")
    @classmethod
    def _case(cls, value: object) -> object:
        return _upper(value)


class AppointmentCreate(StrictApiModel):
    patient_id: str = Field(min_length=1, max_length=64)
    appointment_date: dt.date
    appointment_type: AppointmentType = AppointmentType.FOLLOW_UP
    clinician_id: str | None = Field(
        default=None, max_length=64, description="Defaults to the clinician scheduling it."
    )
    notes: str | None = Field(default=None, max_length=2000)
    visit_id: str | None = Field(default=None, description="The visit that asked for it.")

    @field_validator("appointment_type", mode="before")
    @classmethod
    def _case(cls, value: object) -> object:
        return _upper(value)

    @field_validator("appointment_date")
    @classmethod
    def _future(cls, value: dt.date) -> dt.date:
        if value < dt.date.today():
            raise ValueError("is in the past")
        return value


class AppointmentOut(ApiModel):
    id: str
    patient_id: str
    visit_id: str | None
    appointment_date: dt.date
    appointment_type: AppointmentType
    clinician_id: str | None
    notes: str | None
    status: str
    scheduled_by: str
    created_at: dt.datetime
    version: int


class VisitOpen(StrictApiModel):
    payment_type: InsuranceType | None = Field(
        default=None, description="Defaults to the patient's insurance type."
    )
