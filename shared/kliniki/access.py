"""Who may do what: the one role x permission matrix of the whole system.

Every route names the permission it needs (``require(Permission.X)``); the notifier asks the
same matrix before a frame leaves for a user. The README's access table is this data.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    RECEPTIONIST = "receptionist"
    TRIAGE_NURSE = "triage_nurse"
    CLINICAL_OFFICER = "clinical_officer"
    LAB_TECHNICIAN = "lab_technician"
    PHARMACIST = "pharmacist"
    CASHIER = "cashier"
    ADMIN = "admin"


class Stage(StrEnum):
    """A department's step in the visit; each owns a worklist of assignments."""

    TRIAGE = "TRIAGE"
    CONSULTATION = "CONSULTATION"
    LAB = "LAB"
    PHARMACY = "PHARMACY"
    PAYMENT = "PAYMENT"


# The role whose staff work each stage's worklist.
STAGE_ROLE: dict[Stage, Role] = {
    Stage.TRIAGE: Role.TRIAGE_NURSE,
    Stage.CONSULTATION: Role.CLINICAL_OFFICER,
    Stage.LAB: Role.LAB_TECHNICIAN,
    Stage.PHARMACY: Role.PHARMACIST,
    Stage.PAYMENT: Role.CASHIER,
}

ALL_STAFF = frozenset(Role)
CLINICAL = frozenset({Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER})


class Permission(StrEnum):
    PATIENT_REGISTER = "patient:register"
    PATIENT_READ = "patient:read"  # demographics: name, gender, age, phone, OP number
    PATIENT_CORRECT = "patient:correct"
    VISIT_READ = "visit:read"
    VISIT_UPDATE = "visit:update"
    APPOINTMENT_SCHEDULE = "appointment:schedule"
    APPOINTMENT_READ = "appointment:read"
    WORKLIST_READ = "worklist:read"
    ASSIGNMENT_CREATE = "assignment:create"
    ASSIGNMENT_UPDATE = "assignment:update"
    DUTY_SET_OWN = "duty:set-own"
    DUTY_SET_ANY = "duty:set-any"
    CLINICAL_READ = "clinical:read"  # vital signs, complaints, diagnoses, orders, results
    AUDIT_READ = "audit:read"


# Permissions that do not depend on the department the request is made to.
_GLOBAL: dict[Permission, frozenset[Role]] = {
    Permission.PATIENT_REGISTER: frozenset({Role.RECEPTIONIST, Role.ADMIN}),
    Permission.PATIENT_READ: ALL_STAFF,
    Permission.PATIENT_CORRECT: frozenset({Role.RECEPTIONIST, Role.ADMIN}),
    Permission.VISIT_READ: ALL_STAFF,
    Permission.VISIT_UPDATE: frozenset({Role.RECEPTIONIST, Role.CASHIER, Role.ADMIN}),
    Permission.APPOINTMENT_SCHEDULE: frozenset(
        {Role.RECEPTIONIST, Role.CLINICAL_OFFICER, Role.ADMIN}
    ),
    Permission.APPOINTMENT_READ: frozenset(
        {Role.RECEPTIONIST, Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER, Role.ADMIN}
    ),
    Permission.DUTY_SET_ANY: frozenset({Role.ADMIN}),
    Permission.CLINICAL_READ: frozenset(
        {Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER, Role.LAB_TECHNICIAN, Role.PHARMACIST}
    ),
    Permission.AUDIT_READ: frozenset({Role.ADMIN}),
}

# Who hands patients on to each stage: they may put a patient on that stage's worklist.
_HANDS_ON_TO: dict[Stage, frozenset[Role]] = {
    Stage.TRIAGE: frozenset({Role.RECEPTIONIST}),
    Stage.CONSULTATION: frozenset({Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER}),
    Stage.LAB: frozenset({Role.CLINICAL_OFFICER}),
    Stage.PHARMACY: frozenset({Role.CLINICAL_OFFICER}),
    Stage.PAYMENT: frozenset(),
}


def roles_for(permission: Permission, stage: Stage | None = None) -> frozenset[Role]:
    """The roles holding ``permission``; worklist permissions depend on the stage."""
    if permission in _GLOBAL:
        return _GLOBAL[permission]
    if stage is None:
        raise ValueError(f"{permission} is a worklist permission: name the stage")
    own = frozenset({STAGE_ROLE[stage], Role.ADMIN})
    if permission is Permission.WORKLIST_READ:
        return own
    if permission is Permission.ASSIGNMENT_CREATE:
        return own | _HANDS_ON_TO[stage]
    if permission in (Permission.ASSIGNMENT_UPDATE, Permission.DUTY_SET_OWN):
        return own
    raise ValueError(f"unknown permission {permission}")


def allowed(roles: frozenset[str], permission: Permission, stage: Stage | None = None) -> bool:
    return bool(roles & roles_for(permission, stage))


def matrix() -> list[tuple[str, str, list[str]]]:
    """(permission, stage or '', roles) rows: the README table and the access tests walk it."""
    rows: list[tuple[str, str, list[str]]] = []
    for permission in Permission:
        if permission in _GLOBAL:
            rows.append((permission.value, "", sorted(r.value for r in _GLOBAL[permission])))
        else:
            for stage in Stage:
                rows.append((permission.value, stage.value, sorted(roles_for(permission, stage))))
    return rows


# -- The WebSocket side of the matrix ---------------------------------------------------------
# Which roles may receive each notifier frame at all, and which of its fields are clinical
# (stripped for roles without CLINICAL_READ). The notifier asks ``frame_for`` before every send.

_CLINICAL_READERS = _GLOBAL[Permission.CLINICAL_READ]
_DESK = frozenset({Role.RECEPTIONIST, Role.CASHIER, Role.ADMIN})

FRAME_ROLES: dict[str, frozenset[Role]] = {
    "patient_registered": ALL_STAFF,
    "new_assignment": ALL_STAFF,  # addressed to one person or one role's queue
    "patient_updated": _CLINICAL_READERS,
    "patient_assignment_updated": _CLINICAL_READERS,
    "new_lab_request": frozenset({Role.LAB_TECHNICIAN, Role.CLINICAL_OFFICER}),
    "lab_results_ready": frozenset({Role.CLINICAL_OFFICER, Role.LAB_TECHNICIAN}),
    "prescription_ready": frozenset({Role.PHARMACIST, Role.CLINICAL_OFFICER}),
    "prescription_updated": ALL_STAFF,
    "patient_ready_for_payment": _DESK,
    "visit_completed": ALL_STAFF,
    "follow_up_scheduled": frozenset({Role.CLINICAL_OFFICER, Role.RECEPTIONIST, Role.TRIAGE_NURSE}),
}

# Top-level fields of a frame that only clinical roles see.
CLINICAL_FRAME_FIELDS: dict[str, frozenset[str]] = {
    "prescription_updated": frozenset({"medicationName", "dosage", "dispensingNotes"}),
    "follow_up_scheduled": frozenset({"notes", "diagnosis"}),
    "visit_completed": frozenset({"dischargeNotes", "diagnosis"}),
    "new_assignment": frozenset({"chiefComplaint", "notes"}),
}


def frame_for(
    event: str, data: dict[str, object], roles: frozenset[str]
) -> dict[str, object] | None:
    """The frame's data as a user with ``roles`` may see it, or None if they may not at all."""
    audience = FRAME_ROLES.get(event)
    if audience is None or not roles & audience:
        return None
    if roles & _CLINICAL_READERS:
        return data
    hidden = CLINICAL_FRAME_FIELDS.get(event, frozenset())
    return {k: v for k, v in data.items() if k not in hidden}
