"""The audit trail: every change recorded, append-only, chained so tampering is detected."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import pytest

from tests.scenario import another_patient
from tests.support.stack import Stack, auth


def verify_cli(stack: Stack, service: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kliniki.audit_verify", service],
        env=stack.env(service),
        capture_output=True,
        text=True,
        check=False,
    )


async def verified_without(
    stack: Stack, db: asyncpg.Connection, record: asyncpg.Record
) -> subprocess.CompletedProcess[str]:
    """What audit-verify says of registration's trail with ``record`` deleted behind the
    trigger's back (disabled by the caller); then the record is put back as it was, so the
    rest of the suite sees an intact trail."""
    await db.execute("delete from audit_log where id = $1", record["id"])
    verdict = await asyncio.to_thread(verify_cli, stack, "registration")
    columns = ", ".join(record.keys())
    values = ", ".join(f"${i}" for i in range(1, len(record) + 1))
    await db.execute(
        f"insert into audit_log ({columns}) overriding system value values ({values})",
        *record.values(),
    )
    return verdict


async def test_changes_are_audited_chained_and_readable_by_admins_only(stack: Stack, http) -> None:
    base = stack.url("registration")
    patient = (
        await http.post(
            f"{base}/patients", json=another_patient(), headers=auth("alice_receptionist")
        )
    ).json()
    corrected = await http.patch(
        f"{base}/patients/{patient['id']}",
        json={"phoneNumber": "0722111333", "version": 1},
        headers=auth("alice_receptionist"),
    )
    assert corrected.status_code == 200

    history = await http.get(
        f"{base}/audit", params={"patientId": patient["id"]}, headers=auth("admin")
    )
    assert history.status_code == 200
    records = history.json()
    assert [(r["action"], r["resource"], r["actorId"]) for r in records] == [
        ("CREATE", "PATIENT", "alice_receptionist"),
        ("UPDATE", "PATIENT", "alice_receptionist"),
    ]
    assert records[1]["before"]["phoneNumber"] == "+254712345678"
    assert records[1]["after"]["phoneNumber"] == "+254722111333"
    assert all(r["requestId"] and len(r["hash"]) == 64 for r in records)
    for user in ("alice_receptionist", "dr_smith"):
        denied = await http.get(
            f"{base}/audit", params={"patientId": patient["id"]}, headers=auth(user)
        )
        assert denied.status_code == 403

    result = await asyncio.to_thread(verify_cli, stack, "registration")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "chain intact" in result.stdout


async def test_the_database_refuses_to_change_audit_records(stack: Stack) -> None:
    db = await stack.connect_db("registration")
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await db.execute("update audit_log set actor_id = 'mallory'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await db.execute("delete from audit_log")
    finally:
        await db.close()


async def test_tampering_behind_the_databases_back_is_detected(stack: Stack, http) -> None:
    await http.post(
        f"{stack.url('registration')}/patients",
        json=another_patient(),
        headers=auth("alice_receptionist"),
    )
    db = await stack.connect_db("registration")
    try:
        target = await db.fetchrow("select * from audit_log order by id desc offset 1 limit 1")
        # Someone with superuser access edits a record, bypassing the trigger...
        await db.execute("alter table audit_log disable trigger audit_log_append_only")
        await db.execute("update audit_log set actor_id = 'mallory' where id = $1", target["id"])
        edited = await asyncio.to_thread(verify_cli, stack, "registration")
        # ...then deletes one instead.
        await db.execute(
            "update audit_log set actor_id = $2 where id = $1", target["id"], target["actor_id"]
        )
        assert (await asyncio.to_thread(verify_cli, stack, "registration")).returncode == 0
        deleted = await verified_without(stack, db, target)
        await db.execute("alter table audit_log enable trigger audit_log_append_only")
    finally:
        await db.close()
    assert edited.returncode == 1
    assert f"BROKEN at record {target['id']}: the record was altered" in edited.stdout
    assert deleted.returncode == 1
    assert "removed or altered" in deleted.stdout
    assert (await asyncio.to_thread(verify_cli, stack, "registration")).returncode == 0


async def test_the_chain_holds_when_many_changes_commit_at_once(stack: Stack, http) -> None:
    """Registrations side by side, and triage's partitions taking them in at the same time:
    each transaction extends the chain from the record the one before it wrote."""
    url = f"{stack.url('registration')}/patients"
    responses = await asyncio.gather(
        *(
            http.post(url, json=another_patient(), headers=auth("alice_receptionist"))
            for _ in range(20)
        )
    )
    assert all(r.status_code == 201 for r in responses)
    ids = {r.json()["id"] for r in responses}
    db = await stack.connect_db("triage")
    try:
        for _ in range(150):  # until triage took every one of them in
            taken = await db.fetchval(
                "select count(distinct after->>'patientId') from audit_log"
                " where resource = 'ASSIGNMENT' and after->>'patientId' = any($1)",
                list(ids),
            )
            if taken == len(ids):
                break
            await asyncio.sleep(0.1)
    finally:
        await db.close()
    for service in ("registration", "triage"):
        result = await asyncio.to_thread(verify_cli, stack, service)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "chain intact" in result.stdout


async def test_a_record_removed_from_the_end_of_its_chain_is_detected(stack: Stack, http) -> None:
    """The trail is several chains (one per group of patients); each chain's last hash is kept
    beside it, so removing a chain's newest record is seen too, not only one in the middle."""
    response = await http.post(
        f"{stack.url('registration')}/patients",
        json=another_patient(),
        headers=auth("alice_receptionist"),
    )
    assert response.status_code == 201
    db = await stack.connect_db("registration")
    try:
        newest = await db.fetchrow("select * from audit_log order by id desc limit 1")
        await db.execute("alter table audit_log disable trigger audit_log_append_only")
        removed = await verified_without(stack, db, newest)
        await db.execute("alter table audit_log enable trigger audit_log_append_only")
    finally:
        await db.close()
    assert removed.returncode == 1
    assert "removed or altered" in removed.stdout
    assert (await asyncio.to_thread(verify_cli, stack, "registration")).returncode == 0
