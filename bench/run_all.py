"""Run every benchmark (``bench/bench_*.py``) in turn: ``make bench``. Each prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    selected = sys.argv[1:]
    failures = 0
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        if selected and script.stem not in selected and script.name not in selected:
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        failures += subprocess.run([sys.executable, str(script)]).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
