"""Profile the registration pipeline with py-spy: where each service spends its CPU.

Starts registration, triage and the notifier, drives registrations at USERS concurrent users
for SECONDS while ``py-spy record`` samples each process, then prints each process's heaviest
functions (own time) and heaviest Kliniki frames (inclusive). The collapsed stacks are kept in
.run/profiles/ for a flame graph (``py-spy`` can write SVG with ``--format flamegraph``).

    .venv/bin/python bench/profile_pipeline.py        # SECONDS=15 USERS=10
    PYSPY_NATIVE=1 .venv/bin/python bench/profile_pipeline.py   # C and Cython frames too
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SECONDS = int(os.environ.get("SECONDS", "15"))
os.environ["DURATION"] = str(SECONDS)  # the load lasts as long as the sampling

from bench.bench_registration_throughput import (  # noqa: E402
    SERVICES,
    WARM_UP,
    CpuMeter,
    pipeline,
)
from bench.support import start_pipeline  # noqa: E402
from tests.support.stack import Stack, servers  # noqa: E402

OUT = REPO / ".run" / "profiles"


def summarise(path: Path, top: int = 12) -> list[str]:
    own: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            if _ours(frame):
                ours[frame] += n
    lines = [f"  {total} samples; own time:"]
    lines += [f"    {100 * n / total:5.1f}%  {_short(f)}" for f, n in own.most_common(top)]
    lines += ["  Kliniki frames, inclusive:"]
    lines += [f"    {100 * n / total:5.1f}%  {_short(f)}" for f, n in ours.most_common(top)]
    return lines


OUR_PACKAGES = {"kliniki", *SERVICES, "clinical", "lab", "pharmacy", "billing", "identity"}


def _ours(frame: str) -> bool:
    """py-spy names files relative to sys.path: ``kliniki/app.py``, ``triage/service.py``, or
    a bare ``outbox.py`` for the kernel's modules."""
    where = frame.partition(" (")[2].rsplit(":", 1)[0]
    first = where.split("/")[0]
    return first in OUR_PACKAGES or ("/" not in where and not where.startswith("<"))


def _short(frame: str) -> str:
    """``fn (/long/path/site-packages/pkg/mod.py:12)`` -> ``fn (pkg/mod.py:12)``."""
    name, _, where = frame.partition(" (")
    for marker in ("site-packages/", "/shared/", "/services/", "/lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where}"[:150]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            start_pipeline(stack)
            meter = CpuMeter(stack)
            spies = {
                name: subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(proc.process.pid),
                        "--duration",
                        str(SECONDS + 3),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--output",
                        str(OUT / f"{name}.txt"),
                        # --native needs py-spy to pause the process while it samples
                        *(["--native"] if os.environ.get("PYSPY_NATIVE") else ["--nonblocking"]),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for name, proc in stack.processes.items()
                if name in SERVICES
            }
            meter.start()
            done, seconds = asyncio.run(pipeline(stack, int(os.environ.get("USERS", "10"))))
            cpu = meter.line(len(done) + WARM_UP)
            for spy in spies.values():
                spy.wait()
        finally:
            stack.stop_all()
            stack.cleanup()
    print(f"{len(done)} registrations in {seconds:.1f} s ({len(done) / seconds:.1f}/s)")
    print(cpu.strip())
    for name in spies:
        print(f"\n{name}:")
        print("\n".join(summarise(OUT / f"{name}.txt")))


if __name__ == "__main__":
    main()
