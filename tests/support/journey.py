"""Steps of the scenario as API calls, shared by the cross-service tests and the demo."""

from __future__ import annotations

from typing import Any

import httpx

from tests.scenario import another_patient
from tests.support.stack import auth
from tests.support.waiting import eventually

SCENARIO_VITALS = {
    "bloodPressure": "140/90",
    "temperature": "38.5°C",
    "pulse": "95 bpm",
    "respiratoryRate": "20/min",
}


class Journey:
    """One patient's visit, driven through the public APIs of the running services."""

    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str]) -> None:
        self.http = http
        self.urls = urls
        self.patient: dict[str, Any] = {}

    @property
    def patient_id(self) -> str:
        return self.patient["id"]

    @property
    def visit_id(self) -> str:
        return self.patient["visit"]["id"]

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        user: str,
        expect: int | tuple[int, ...] = 200,
        **kwargs: Any,
    ) -> Any:
        response = await self.http.request(
            method, f"{self.urls[service]}{path}", headers=auth(user), **kwargs
        )
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, (method, path, response.status_code, response.text)
        return response.json()

    async def register(self, **changes: Any) -> dict[str, Any]:
        self.patient = await self.call(
            "POST",
            "registration",
            "/patients",
            "alice_receptionist",
            201,
            json=another_patient(**changes),
        )
        return self.patient

    async def assignment(self, service: str, user: str) -> dict[str, Any]:
        """The visit's active assignment on ``service``'s worklist, once it has arrived."""

        async def find() -> list[dict[str, Any]]:
            return await self.call("GET", service, f"/assignments?visitId={self.visit_id}", user)

        return (await eventually(find))[0]

    async def triage(self, category: str = "URGENT") -> dict[str, Any]:
        encounters = await eventually(
            lambda: self.call(
                "GET", "triage", f"/encounters?visitId={self.visit_id}", "nurse_sarah"
            )
        )
        encounter = encounters[0]
        return await self.call(
            "PATCH",
            "triage",
            f"/encounters/{encounter['id']}",
            "nurse_sarah",
            json={
                "vitalSigns": SCENARIO_VITALS,
                "triageCategory": category,
                "chiefComplaint": "Severe chest pain for 2 hours",
                "version": encounter["version"],
            },
        )

    async def complete_assignment(self, service: str, user: str) -> dict[str, Any]:
        assignment = await self.assignment(service, user)
        return await self.call(
            "PATCH",
            service,
            f"/assignments/{assignment['id']}",
            user,
            json={"status": "COMPLETED", "version": assignment["version"]},
        )
