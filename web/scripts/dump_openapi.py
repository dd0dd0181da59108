"""Print every service's OpenAPI document as one JSON object {service: document}.

Built from each FastAPI app directly (``create_app().openapi()``): no server, database or broker
is needed. Run by ``npm run gen:api`` with the repository's .venv.
"""

from __future__ import annotations

import importlib
import json
import sys

SERVICES = [
    "registration",
    "triage",
    "clinical",
    "lab",
    "pharmacy",
    "billing",
    "notifier",
    "identity",
]


def main() -> None:
    out = {}
    for service in SERVICES:
        try:
            module = importlib.import_module(f"{service}.main")
        except ModuleNotFoundError:
            print(f"{service}: not installed, skipped", file=sys.stderr)
            continue
        out[service] = module.create_app().openapi()
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
