"""The image recipe (deploy/Dockerfile, .dockerignore, entrypoint): checked as files, since no
Docker engine is needed to run the test suite."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import tomllib

import pytest

from tests.deployment.support import (
    DEPLOY,
    REPO,
    build_context,
    contract_ports,
    dockerfile_stages,
    reference_files,
)

STAGES = dockerfile_stages()
FINAL = STAGES[-1]
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|cc|curl|wget|git)\b")


def instructions(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [args for instruction, args in stage if instruction == name]


def test_multi_stage_on_a_slim_python_311_base() -> None:
    froms = [args for stage in STAGES for instruction, args in stage if instruction == "FROM"]
    assert len(froms) >= 2, "a build stage and a runtime stage"
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", (DEPLOY / "Dockerfile").read_text())
    assert base and re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base[1]), base
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms), froms


def test_final_stage_runs_as_a_numeric_non_root_user_without_build_tools() -> None:
    users = instructions(FINAL, "USER")
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric (runAsNonRoot can check it) and not root"
    for run in instructions(FINAL, "RUN"):
        assert "apt-get install" not in run and not BUILD_TOOLS.search(run), run
    # Only the virtualenv and a few files come from the build stage.
    copied = [c for c in instructions(FINAL, "COPY") if c.startswith("--from=build")]
    assert copied and all("/opt/" in c for c in copied), copied


def test_dependencies_come_from_the_lock_file() -> None:
    build = STAGES[1]
    installs = [run for run in instructions(build, "RUN") if "pip install" in run]
    assert installs, "the build stage installs with pip"
    for run in installs:
        assert "--constraint requirements.lock" in run, run
    assert any("pip check" in run for run in instructions(build, "RUN"))
    assert "requirements.lock" in " ".join(instructions(build, "COPY"))


def test_healthcheck_asks_healthz_with_python_not_curl() -> None:
    checks = instructions(FINAL, "HEALTHCHECK")
    assert len(checks) == 1
    assert "/healthz" in checks[0] and '"python"' in checks[0] and "curl" not in checks[0]


def test_entrypoint_execs_uvicorn_with_a_graceful_shutdown() -> None:
    assert instructions(FINAL, "ENTRYPOINT") == ['["/usr/local/bin/kliniki-entrypoint"]']
    assert instructions(FINAL, "CMD") == ['["serve"]']
    script = (DEPLOY / "image" / "entrypoint.sh").read_text()
    # exec: uvicorn must be PID 1 to receive SIGTERM itself.
    assert 'exec uvicorn --factory "${KLINIKI_SERVICE_NAME}.main:create_app"' in script
    assert "--timeout-graceful-shutdown" in script
    assert "exec python /opt/kliniki/migrate_with_lock.py" in script
    env = " ".join(instructions(FINAL, "ENV"))
    assert re.search(r"UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN=\d+", env)
    assert "KLINIKI_STAFF_FILE=/etc/kliniki/staff.yaml" in env


@pytest.mark.parametrize(
    ("shell", "script"),
    [
        ("sh", "deploy/image/entrypoint.sh"),
        ("bash", "deploy/postgres-init/10-kliniki-databases.sh"),
        ("bash", "deploy/k8s/create-secrets.sh"),
    ],
)
def test_shell_scripts_parse_and_are_executable(shell: str, script: str) -> None:
    path = REPO / script
    assert path.stat().st_mode & 0o111, f"{script} must be executable"
    if shutil.which(shell):
        result = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_build_context_has_what_the_image_needs_and_nothing_private() -> None:
    context = build_context()
    for instruction, args in (i for stage in STAGES for i in stage):
        if instruction != "COPY" or args.startswith("--from"):
            continue
        for source in [a for a in args.split()[:-1] if not a.startswith("--")]:
            source = source.replace("${SERVICE}", "registration")
            assert any(f == source or f.startswith(source.rstrip("/") + "/") for f in context), (
                f"COPY {source}: missing from the build context (.dockerignore)"
            )
    for service in contract_ports():
        assert f"services/{service}/pyproject.toml" in context
    leaked = [
        f
        for f in context
        if re.search(r"(^|/)(\.venv|\.git|__pycache__|tests|\.env)(/|$)|\.egg-info/", f)
    ]
    assert not leaked, leaked
    assert len(context) < 2000, "the context should be the code, not the working tree"


@pytest.mark.parametrize("service", sorted(contract_ports()))
def test_each_service_package_ships_its_migrations(service: str) -> None:
    """The image installs the package (not editable): migrations must be package data."""
    project = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text())
    data = project["tool"]["setuptools"]["package-data"][service]
    assert "migrations/versions/*.py" in data and "migrations/*.py" in data, data
    assert list((REPO / "services" / service / service / "migrations" / "versions").glob("*.py"))


def test_every_service_folder_is_a_contract_service() -> None:
    folders = {p.parent.name for p in (REPO / "services").glob("*/pyproject.toml")}
    assert folders == set(contract_ports()), "a new service needs its port in SERVICE_PORTS"


def test_services_read_the_environment_only_through_settings() -> None:
    """So that ServiceSettings' fields really are every variable a service reads."""
    offenders = []
    for path in [*(REPO / "shared").rglob("*.py"), *(REPO / "services").rglob("*.py")]:
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"read settings through kliniki.settings.ServiceSettings: {offenders}"


def test_migration_lock_key_is_stable_and_fits_a_bigint() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "migrate_with_lock", DEPLOY / "image" / "migrate_with_lock.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    key = module.lock_key("kliniki_triage")
    assert key == module.lock_key("kliniki_triage") != module.lock_key("kliniki_lab")
    assert 0 <= key < 2**63


def test_reference_data_is_in_the_image_where_the_settings_point() -> None:
    """Each setting defaulting to a file in deploy/ (staff directory, lab catalogue, price list,
    and any added later) is copied to /etc/kliniki/ and pointed at there."""
    files = reference_files()
    assert "KLINIKI_STAFF_FILE" in files
    copied = " ".join(instructions(FINAL, "COPY"))
    env = " ".join(instructions(FINAL, "ENV"))
    context = build_context()
    for name, file in files.items():
        assert f"deploy/{file}" in copied.split(), f"COPY deploy/{file} into /etc/kliniki/"
        assert f"{name}=/etc/kliniki/{file}" in env, f"ENV {name}=/etc/kliniki/{file}"
        assert f"deploy/{file}" in context, f"let deploy/{file} through .dockerignore"
