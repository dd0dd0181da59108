"""Staff administration at identity and what every service makes of it: a nurse created at
10:00 goes on duty and gets the next patient at 10:01; a leaver is cut off at once."""

from __future__ import annotations

import uuid

import httpx

from kliniki.settings import DEV_PASSWORD
from tests.scenario import another_patient
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually

NEW_PASSWORD = "Mango-tree-at-noon-42"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(
    http: httpx.AsyncClient, stack: Stack, user: str, password: str
) -> httpx.Response:
    return await http.post(
        f"{stack.url('identity')}/auth/token",
        data={"grant_type": "password", "username": user, "password": password},
    )


async def create_nurse(http: httpx.AsyncClient, stack: Stack, name: str) -> str:
    """An admin creates a triage nurse with a one-time password; she chooses her own."""
    user_id = f"nurse_{uuid.uuid4().hex[:8]}"
    one_time = f"first-day-{uuid.uuid4().hex[:6]}"
    created = await http.post(
        f"{stack.url('identity')}/staff",
        json={"id": user_id, "name": name, "roles": ["triage_nurse"], "password": one_time},
        headers=auth("admin"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["mustChangePassword"] is True
    first = await sign_in(http, stack, user_id, one_time)
    assert first.status_code == 200 and first.json()["password_change_required"] is True
    changed = await http.post(
        f"{stack.url('identity')}/me/password",
        json={"currentPassword": one_time, "newPassword": NEW_PASSWORD},
        headers=bearer(first.json()["access_token"]),
    )
    assert changed.status_code == 200, changed.text
    return user_id


async def roster(http: httpx.AsyncClient, stack: Stack) -> dict[str, bool]:
    response = await http.get(f"{stack.url('triage')}/duty", headers=auth("admin"))
    return {s["userId"]: s["onDuty"] for s in response.json()}


async def set_duty(http: httpx.AsyncClient, stack: Stack, user: str, on: bool) -> None:
    response = await http.post(
        f"{stack.url('triage')}/duty", json={"onDuty": on, "userId": user}, headers=auth("admin")
    )
    assert response.status_code == 200, response.text


async def register(http: httpx.AsyncClient, stack: Stack) -> str:
    response = await http.post(
        f"{stack.url('registration')}/patients",
        json=another_patient(),
        headers=auth("alice_receptionist"),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def triage_assignment(http: httpx.AsyncClient, stack: Stack, patient_id: str) -> dict:
    async def probe() -> list[dict]:
        r = await http.get(
            f"{stack.url('triage')}/assignments?patientId={patient_id}", headers=auth("admin")
        )
        return r.json()

    return (await eventually(probe))[0]


async def test_a_one_time_password_may_only_be_changed(stack: Stack, http) -> None:
    user_id = f"nurse_{uuid.uuid4().hex[:8]}"
    created = await http.post(
        f"{stack.url('identity')}/staff",
        json={
            "id": user_id,
            "name": "Grace Wanjiku",
            "roles": ["triage_nurse"],
            "password": "first-day-98765",
        },
        headers=auth("admin"),
    )
    assert created.status_code == 201, created.text
    token = (await sign_in(http, stack, user_id, "first-day-98765")).json()["access_token"]

    async def refused_at_triage() -> int:
        r = await http.get(f"{stack.url('triage')}/assignments", headers=bearer(token))
        return r.status_code

    # Once triage knows her (staff.created), the token is refused for anything but a password.
    status = await eventually(refused_at_triage, lambda s: s != 401)
    assert status == 403
    weak = await http.post(
        f"{stack.url('identity')}/me/password",
        json={"currentPassword": "first-day-98765", "newPassword": "password123"},
        headers=bearer(token),
    )
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "newPassword"
    assert "common" in weak.json()["detail"]
    short = await http.post(
        f"{stack.url('identity')}/me/password",
        json={"currentPassword": "first-day-98765", "newPassword": "abc"},
        headers=bearer(token),
    )
    assert short.status_code == 422 and "at least 10" in short.json()["detail"]


async def test_a_new_nurse_goes_on_duty_and_gets_the_next_patient(stack: Stack, http) -> None:
    nurse = await create_nurse(http, stack, "Mary Njeri")
    # Triage learns of her from identity's staff.created: she is on its roster, off duty.
    await eventually(lambda: roster(http, stack), lambda r: nurse in r)
    token = (await sign_in(http, stack, nurse, NEW_PASSWORD)).json()["access_token"]
    on = await http.post(
        f"{stack.url('triage')}/duty", json={"onDuty": True}, headers=bearer(token)
    )
    assert on.status_code == 200, on.text
    before = await roster(http, stack)
    others = [u for u, on_duty in before.items() if on_duty and u != nurse]
    for user in others:  # she is the one on duty: the next patient is hers
        await set_duty(http, stack, user, False)
    try:
        patient_id = await register(http, stack)
        assignment = await triage_assignment(http, stack, patient_id)
        assert assignment["assignedToUserId"] == nurse
        assert assignment["assignedToName"] == "Mary Njeri"
        mine = await http.get(f"{stack.url('triage')}/assignments?mine=true", headers=bearer(token))
        assert patient_id in [a["patientId"] for a in mine.json()]
    finally:
        for user in others:
            await set_duty(http, stack, user, True)
        await set_duty(http, stack, nurse, False)


async def test_a_deactivated_nurse_is_cut_off_and_her_patients_go_back_to_the_queue(
    stack: Stack, http
) -> None:
    nurse = await create_nurse(http, stack, "Ruth Akinyi")
    await eventually(lambda: roster(http, stack), lambda r: nurse in r)
    signed_in = (await sign_in(http, stack, nurse, NEW_PASSWORD)).json()
    token = signed_in["access_token"]
    await http.post(f"{stack.url('triage')}/duty", json={"onDuty": True}, headers=bearer(token))
    before = await roster(http, stack)
    others = [u for u, on_duty in before.items() if on_duty and u != nurse]
    for user in others:
        await set_duty(http, stack, user, False)
    try:
        patient_id = await register(http, stack)
        assert (await triage_assignment(http, stack, patient_id))["assignedToUserId"] == nurse

        deactivated = await http.post(
            f"{stack.url('identity')}/staff/{nurse}/deactivate", headers=auth("admin")
        )
        assert deactivated.status_code == 200 and deactivated.json()["active"] is False
        # At once: her refresh token is refused, and so is her password.
        refresh = await http.post(
            f"{stack.url('identity')}/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": signed_in["refresh_token"]},
        )
        assert refresh.status_code == 401
        assert (await sign_in(http, stack, nurse, NEW_PASSWORD)).status_code == 401

        # Once staff.deactivated arrives: her access token is refused everywhere ...
        async def status_at(service: str) -> int:
            path = "/assignments" if service == "triage" else "/visits?status=REGISTERED"
            r = await http.get(f"{stack.url(service)}{path}", headers=bearer(token))
            return r.status_code

        assert await eventually(lambda: status_at("triage"), lambda s: s == 401) == 401
        assert await eventually(lambda: status_at("registration"), lambda s: s == 401) == 401
        # ... she is off the roster, and her patient waits in the shared queue.
        assert nurse not in await roster(http, stack)
        waiting = await triage_assignment(http, stack, patient_id)
        assert waiting["assignedToUserId"] is None
        # Nobody on duty now: the next patient waits in the queue too, never goes to her.
        later = await triage_assignment(http, stack, await register(http, stack))
        assert later["assignedToUserId"] is None
    finally:
        for user in others:
            await set_duty(http, stack, user, True)


async def test_staff_administration_is_for_admins_and_keeps_one_admin(stack: Stack, http) -> None:
    identity = stack.url("identity")
    listed = await http.get(f"{identity}/staff?limit=200", headers=auth("admin"))
    assert listed.status_code == 200
    assert {"nurse_sarah", "admin"} <= {s["id"] for s in listed.json()}
    assert "passwordHash" not in listed.json()[0]
    nurse = await http.get(f"{identity}/staff", headers=auth("nurse_sarah"))
    assert nurse.status_code == 403
    # Leave one active admin ("admin"): it can be neither deactivated nor demoted.
    others = [
        a["id"]
        for a in listed.json()
        if "admin" in a["roles"] and a["active"] and a["id"] != "admin"
    ]
    for other in others:
        r = await http.post(f"{identity}/staff/{other}/deactivate", headers=auth("admin"))
        assert r.status_code == 200, r.text
    try:
        last = await http.post(f"{identity}/staff/admin/deactivate", headers=auth("admin"))
        assert last.status_code == 409 and "last active admin" in last.json()["detail"]
        admin = await http.get(f"{identity}/staff/admin", headers=auth("admin"))
        demote = await http.patch(
            f"{identity}/staff/admin",
            json={"roles": ["receptionist"], "version": admin.json()["version"]},
            headers=auth("admin"),
        )
        assert demote.status_code == 409
    finally:
        for other in others:
            r = await http.post(f"{identity}/staff/{other}/reactivate", headers=auth("admin"))
            assert r.status_code == 200, r.text
    duplicate = await http.post(
        f"{identity}/staff",
        json={
            "id": "nurse_sarah",
            "name": "Sarah",
            "roles": ["triage_nurse"],
            "password": "another-one-123",
        },
        headers=auth("admin"),
    )
    assert duplicate.status_code == 409
    bad_role = await http.post(
        f"{identity}/staff",
        json={"id": "x_new", "name": "X", "roles": ["surgeon"], "password": "another-one-123"},
        headers=auth("admin"),
    )
    assert bad_role.status_code == 422 and bad_role.json()["errors"][0]["field"] == "roles.0"


async def test_renaming_and_a_password_reset(stack: Stack, http) -> None:
    identity = stack.url("identity")
    nurse = await create_nurse(http, stack, "Joy Chebet")
    current = (await http.get(f"{identity}/staff/{nurse}", headers=auth("admin"))).json()
    renamed = await http.patch(
        f"{identity}/staff/{nurse}",
        json={"name": "Joy Chebet Kirui"},
        headers={**auth("admin"), "If-Match": f'"{current["version"]}"'},
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Joy Chebet Kirui"
    stale = await http.patch(
        f"{identity}/staff/{nurse}",
        json={"name": "Someone Else", "version": current["version"]},
        headers=auth("admin"),
    )
    assert stale.status_code == 409

    # Triage's roster follows the rename (staff.updated).
    async def name_at_triage() -> str | None:
        r = await http.get(f"{stack.url('triage')}/duty", headers=auth("admin"))
        return next((s["name"] for s in r.json() if s["userId"] == nurse), None)

    assert await eventually(name_at_triage, lambda n: n == "Joy Chebet Kirui")

    signed_in = (await sign_in(http, stack, nurse, NEW_PASSWORD)).json()
    reset = await http.post(
        f"{identity}/staff/{nurse}/password",
        json={"password": "reset-by-it-2026"},
        headers=auth("admin"),
    )
    assert reset.status_code == 200 and reset.json()["mustChangePassword"] is True
    # Her sessions ended with the reset; the old password no longer works.
    refresh = await http.post(
        f"{identity}/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": signed_in["refresh_token"]},
    )
    assert refresh.status_code == 401
    assert (await sign_in(http, stack, nurse, NEW_PASSWORD)).status_code == 401
    again = await sign_in(http, stack, nurse, "reset-by-it-2026")
    assert again.status_code == 200 and again.json()["password_change_required"] is True


async def test_changes_are_audited_without_passwords(stack: Stack, http) -> None:
    nurse = await create_nurse(http, stack, "Faith Atieno")
    response = await http.get(
        f"{stack.url('identity')}/audit?resourceId={nurse}", headers=auth("admin")
    )
    assert response.status_code == 200
    actions = [r["action"] for r in response.json()]
    assert "CREATE" in actions and "CHANGE_PASSWORD" in actions
    text = response.text
    assert NEW_PASSWORD not in text and "argon2" not in text and DEV_PASSWORD not in text
