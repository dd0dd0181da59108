"""Replay the scenario against the running system and print what each staff member saw live.

    make run      # in one terminal
    make demo     # in another

Registers a new John Doe (each run is a new visit), walks him through triage, consultation,
lab, pharmacy and payment through the public APIs, with all six staff members connected to the
notifier, then prints each one's live frames, like scenario.md's "What Each Staff Member Saw".
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kliniki.settings import SERVICE_PORTS
from tests.scenario import JOHN_DOE
from tests.support import stack
from tests.support.live import StaffSocket
from tests.support.scenario_run import STAFF, run_visit
from tests.support.stack import token

HOST = os.environ.get("KLINIKI_DEMO_HOST", "127.0.0.1")
SHOWN = 110  # characters of each frame's data


def describe(frame: dict) -> str:
    data = frame.get("data") or {}
    if "message" in data:
        detail = data["message"]
    elif frame["event"] == "presence_diff" or frame["event"] == "presence_state":
        detail = json.dumps(data)
    elif frame["event"] == "typing":
        state = "is typing in" if data.get("isTyping") else "stopped typing in"
        detail = f"{data.get('name') or data.get('userId')} {state} {data.get('field')}"
    else:
        detail = json.dumps(data, default=str)
    return detail if len(detail) <= SHOWN else detail[: SHOWN - 1] + "…"


async def main() -> None:
    urls = {s: f"http://{HOST}:{port}" for s, port in SERVICE_PORTS.items()}
    stack.SIGN_IN_URL = urls["identity"]  # everyone signs in at identity, as in a clinic
    try:
        token("admin")
    except httpx.HTTPError:
        sys.exit("cannot sign in at identity: start the system with `make run` first")
    notifier = SERVICE_PORTS["notifier"]
    sockets = {
        user: StaffSocket(f"ws://{HOST}:{notifier}/ws?token={token(user)}", user) for user in STAFF
    }
    try:
        await asyncio.gather(*(s.connect() for s in sockets.values()))
    except OSError:
        sys.exit("cannot reach the notifier: start the system with `make run` first")
    async with httpx.AsyncClient(timeout=20) as http:
        run = await run_visit(http, urls, sockets, **JOHN_DOE)
        await asyncio.sleep(1.0)
    await asyncio.gather(*(s.close() for s in sockets.values()))

    patient = run.journey.patient
    print(f"\nPatient {patient['fullName']} ({patient['opNumber']}), visit {run.journey.visit_id}")
    print(
        f"Final visit: {run.records['visit']['status']}, {run.records['visit']['paymentStatus']}, "
        f"total {run.records['visit']['totalAmount']}\n"
    )
    print("What each staff member saw:")
    for user in STAFF:
        frames = [f for f in sockets[user].frames if f["event"] not in ("pong", "resumed")]
        print(f"\n  {user} ({len(frames)} frames)")
        for frame in frames:
            print(f"    - {frame['event']:<27} {describe(frame)}")
    lat = sorted(run.latencies)
    if lat:
        print(
            f"\nwrite -> live frame: median {lat[len(lat) // 2] * 1000:.0f} ms, "
            f"max {lat[-1] * 1000:.0f} ms over {len(lat)} writes"
        )


if __name__ == "__main__":
    asyncio.run(main())
