"""What the benches share: starting the registration pipeline, registering patients one at a
time while Sarah watches, percentiles."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import httpx
import websockets

from tests.scenario import another_patient
from tests.support.stack import Stack, auth

# A registration's way to Sarah's screen: registration -> triage -> notifier.
PIPELINE = ["registration", "triage", "notifier"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_pipeline(stack: Stack, services: list[str] = PIPELINE, **env: str) -> None:
    """Migrate and start ``services`` (identity first: the others verify tokens with its keys)
    and wait until each answers."""
    stack.migrate(["identity", *services])
    stack.start_identity()
    for service in services:
        stack.start(service, **{"KLINIKI_LOG_LEVEL": "WARNING", **env})
    for proc in stack.processes.values():
        stack.wait_ready(proc)


@dataclass
class Registration:
    """Wall-clock nanoseconds (comparable with trace spans): POST sent, its answer, Sarah's
    ``new_assignment`` frame."""

    posted_ns: int
    returned_ns: int
    frame_ns: int = 0

    @property
    def to_frame_seconds(self) -> float:
        """From the POST's answer to Sarah's frame."""
        return (self.frame_ns - self.returned_ns) / 1e9


async def register_one_at_a_time(
    stack: Stack, count: int, warm_up: int, pause_seconds: float = 0.0
) -> list[Registration]:
    """Register ``warm_up`` + ``count`` patients one after another while Sarah is connected,
    each waiting for her frame; the warm-up ones (connections, caches) are not returned."""
    arrivals: dict[str, int] = {}
    got = asyncio.Event()
    done: list[Registration] = []
    async with (
        websockets.connect(stack.ws_url("nurse_sarah")) as sarah,
        httpx.AsyncClient() as http,
    ):

        async def read() -> None:
            async for text in sarah:
                frame = json.loads(text)
                if frame["event"] == "new_assignment":
                    arrivals[frame["data"]["patientId"]] = time.time_ns()
                    got.set()

        reader = asyncio.create_task(read())
        url = f"{stack.url('registration')}/patients"
        for i in range(warm_up + count):
            posted = time.time_ns()
            response = await http.post(
                url, json=another_patient(), headers=auth("alice_receptionist")
            )
            registration = Registration(posted, time.time_ns())
            patient_id = response.json()["id"]
            while patient_id not in arrivals:
                got.clear()
                await asyncio.wait_for(got.wait(), timeout=15)
            registration.frame_ns = arrivals[patient_id]
            if i >= warm_up:
                done.append(registration)
            if pause_seconds:
                await asyncio.sleep(pause_seconds)
        reader.cancel()
    return done
