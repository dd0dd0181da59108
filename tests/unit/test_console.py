"""The console's own checks that need no servers: its unit tests (vitest), REST types generated
from every service's current OpenAPI, and the notifier's kliniki-live.js built from the one
TypeScript module (web/src/live/kliniki-live.ts). The browser tests are tests/e2e."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (WEB / "node_modules").exists(),
    reason="the console is not installed (make install needs Node 20 and npm)",
)


def node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NODE or "node", *args], cwd=WEB, capture_output=True, text=True, timeout=300
    )


def test_console_unit_tests() -> None:
    result = node("node_modules/vitest/vitest.mjs", "run")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_rest_types_match_every_services_openapi() -> None:
    result = subprocess.run(
        [NODE or "node", "scripts/gen-api.mjs", "--check"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KLINIKI_PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_notifiers_js_client_is_built_from_the_typescript_module(tmp_path: Path) -> None:
    built = tmp_path / "kliniki-live.js"
    result = node("scripts/build-live.mjs", "--out", str(built))
    assert result.returncode == 0, result.stderr
    served = REPO / "services" / "notifier" / "notifier" / "static" / "kliniki-live.js"
    assert built.read_text() == served.read_text(), "run `npm run build:live` in web/"
