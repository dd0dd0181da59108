"""The access matrix: what each role may do, and that the README shows exactly the code's matrix."""

from __future__ import annotations

import pytest

from kliniki.access import Permission, Role, Stage, allowed, frame_for
from tools.access_table import README, readme_block, tables


def test_the_readme_shows_the_matrix_in_the_code() -> None:
    assert readme_block(README.read_text()) == tables().strip("\n"), (
        "README.md is out of date: run .venv/bin/python tools/access_table.py --write"
    )


@pytest.mark.parametrize(
    ("role", "permission", "stage", "expected"),
    [
        (Role.RECEPTIONIST, Permission.PATIENT_REGISTER, None, True),
        (Role.CASHIER, Permission.PATIENT_REGISTER, None, False),
        (Role.RECEPTIONIST, Permission.CLINICAL_READ, None, False),
        (Role.CASHIER, Permission.CLINICAL_READ, None, False),
        (Role.CLINICAL_OFFICER, Permission.CLINICAL_READ, None, True),
        (Role.RECEPTIONIST, Permission.ASSIGNMENT_UPDATE, Stage.TRIAGE, False),
        (Role.TRIAGE_NURSE, Permission.ASSIGNMENT_UPDATE, Stage.TRIAGE, True),
        (Role.TRIAGE_NURSE, Permission.ASSIGNMENT_CREATE, Stage.CONSULTATION, True),
        (Role.TRIAGE_NURSE, Permission.ASSIGNMENT_UPDATE, Stage.CONSULTATION, False),
        (Role.CASHIER, Permission.WORKLIST_READ, Stage.PAYMENT, True),
        (Role.CASHIER, Permission.WORKLIST_READ, Stage.LAB, False),
        (Role.ADMIN, Permission.AUDIT_READ, None, True),
        (Role.CLINICAL_OFFICER, Permission.AUDIT_READ, None, False),
    ],
)
def test_roles_hold_what_their_work_needs(
    role: Role, permission: Permission, stage: Stage | None, expected: bool
) -> None:
    assert allowed(frozenset({role.value}), permission, stage) is expected


def test_a_cashier_never_gets_clinical_frames_or_fields() -> None:
    cashier = frozenset({"cashier"})
    for clinical in (
        "patient_updated",
        "lab_results_ready",
        "new_lab_request",
        "prescription_ready",
    ):
        assert frame_for(clinical, {"patientId": "p"}, cashier) is None
    dispensed = {
        "patientId": "p",
        "status": "DISPENSED",
        "medicationName": "Aspirin",
        "dispensingNotes": "counselled on MI symptoms",
    }
    assert frame_for("prescription_updated", dispensed, cashier) == {
        "patientId": "p",
        "status": "DISPENSED",
    }
    assert frame_for("prescription_updated", dispensed, frozenset({"pharmacist"})) == dispensed


def test_a_role_nobody_knows_gets_nothing() -> None:
    assert frame_for("patient_registered", {"patientId": "p"}, frozenset({"visitor"})) is None
    assert not allowed(frozenset(), Permission.PATIENT_READ)


def test_the_till_hears_an_overdue_payment_without_the_triage_colour() -> None:
    data = {"patientId": "patient_1", "stage": "PAYMENT", "colour": "ORANGE", "minutesWaited": 12}
    assert frame_for("wait_time_exceeded", data, frozenset({"cashier"})) == {
        "patientId": "patient_1",
        "stage": "PAYMENT",
        "minutesWaited": 12,
    }
    assert frame_for("wait_time_exceeded", data, frozenset({"in_charge", "triage_nurse"})) == data
    # The in-charge escalates by colour, even one who holds no clinical role.
    assert frame_for("wait_time_exceeded", data, frozenset({"in_charge"})) == data
    assert frame_for("wait_time_exceeded", data, frozenset({"receptionist"})) is None


def test_every_frame_the_notifier_sends_to_roles_goes_only_to_roles_that_may_receive_it() -> None:
    """frames.py addresses through kliniki.access: the one place whom a frame is for is
    decided, so what is sent and what the README's table shows cannot disagree."""
    import datetime as dt
    from decimal import Decimal

    from kliniki.contracts import billing, clinical
    from kliniki.contracts.worklist import AssignmentEvent
    from kliniki.worklist.domain import AssignmentStatus, Priority
    from notifier import frames

    now = dt.datetime.now(dt.UTC)
    sent = [
        frames.patient_registered(
            patient_id="p", op_number="OP1", assigned_to=None, registered_by="a", timestamp=now
        ),
        frames.patient_updated("p", {"triageCategory": "URGENT"}, "nurse_sarah", now),
        frames.new_lab_request(
            clinical.LabRequestCreated(
                lab_request_id="l",
                patient_id="p",
                visit_id="v",
                test_type="FBC",
                urgency="NORMAL",
                requested_by="dr_smith",
                created_at=now,
            )
        ),
        frames.prescription_ready(
            clinical.PrescriptionCreated(
                prescription_id="r",
                patient_id="p",
                visit_id="v",
                medication_name="A",
                dosage="1",
                frequency="once",
                duration="1 day",
                priority="NORMAL",
                prescribed_by="dr_smith",
                created_at=now,
            )
        ),
        frames.patient_ready_for_payment(
            billing.VisitReadyForPayment(
                visit_id="v",
                patient_id="p",
                total_amount=Decimal(1),
                currency="KES",
                payment_type="CASH",
                services=[],
                items=[],
            )
        ),
        *(
            frames.new_assignment(
                AssignmentEvent(
                    id="a",
                    assignment_type=stage.value,
                    patient_id="p",
                    visit_id=None,
                    patient_name="",
                    op_number=None,
                    priority=Priority.NORMAL,
                    status=AssignmentStatus.ACTIVE,
                    assigned_to_user_id=None,
                    assigned_to_name=None,
                    created_by="a",
                    created_at=now,
                    updated_at=now,
                    completed_at=None,
                    version=1,
                    change="created",
                )
            )
            for stage in Stage
        ),
    ]
    for outgoing in sent:
        assert outgoing.roles, outgoing.event
        for role in outgoing.roles:
            assert frame_for(outgoing.event, outgoing.data, frozenset({role})) is not None, (
                f"{outgoing.event} is sent to {role}, who may not receive it"
            )
    updated = next(o for o in sent if o.event == "patient_updated")
    assert set(updated.roles or ()) == {"triage_nurse", "clinical_officer"}
