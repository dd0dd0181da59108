"""deploy/compose.yaml, deploy/.env.example and the PostgreSQL init script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from check_jsonschema.builtin_schemas import get_builtin_schema

from kliniki.settings import ServiceSettings
from tests.deployment.support import (
    DEPLOY,
    IMAGE_ENV,
    compose_problems,
    contract_ports,
    interpolate,
    interpolated_names,
    load_compose,
    own_setting_env_names,
    read_env_file,
    reference_files,
    setting_env_names,
    walk_strings,
)

COMPOSE = load_compose()
SERVICES = COMPOSE["services"]
PORTS = contract_ports()
EXAMPLE, EXAMPLE_COMMENTED = read_env_file(DEPLOY / ".env.example")


def gen_env_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_env", DEPLOY / "gen_env.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated_env() -> dict[str, str]:
    """deploy/.env as `make up` would write it (gen_env.py over .env.example)."""
    text = gen_env_module().render((DEPLOY / ".env.example").read_text())
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE))


def test_validates_against_the_compose_specification() -> None:
    """The Compose Specification's JSON schema, as vendored by check-jsonschema."""
    schema = get_builtin_schema("vendor.compose-spec")
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(COMPOSE), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no docker compose plugin here; the schema test above covers the file",
)
def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in generated_env().items()))
    result = subprocess.run(
        [
            "docker",
            "compose",
            "--project-directory",
            str(DEPLOY),
            "-f",
            str(DEPLOY / "compose.yaml"),
            "--env-file",
            str(env_file),
            "config",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_service_port_and_setting_of_the_code_is_in_compose() -> None:
    assert compose_problems(COMPOSE, PORTS, setting_env_names()) == []


def test_no_unknown_kliniki_variable_is_set() -> None:
    """A misspelt KLINIKI_ name would be silently ignored by the service (extra="ignore")."""
    known = setting_env_names() | IMAGE_ENV
    for name, spec in SERVICES.items():
        own = own_setting_env_names(name.removesuffix("-migrate"))
        unknown = {k for k in spec.get("environment") or {} if k.startswith("KLINIKI_")}
        unknown -= known | own
        assert not unknown, f"{name}: {unknown}"


@pytest.mark.parametrize("service", sorted(PORTS))
def test_settings_a_service_would_read(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interpolate the service's environment as compose would, load ServiceSettings from it."""
    env = generated_env()
    for name in [n for n in os.environ if n.startswith("KLINIKI_")]:
        monkeypatch.delenv(name)
    for name, value in SERVICES[service]["environment"].items():
        if value is None:  # passed through from deploy/.env when set there, else unset
            if name in env:
                monkeypatch.setenv(name, env[name])
            continue
        monkeypatch.setenv(name, interpolate(str(value), env))
    settings = ServiceSettings()  # type: ignore[call-arg]
    assert settings.service_name == service
    assert settings.http_port == PORTS[service]
    assert settings.database == f"kliniki_{service}"
    assert settings.database_url == (
        f"postgresql+asyncpg://kliniki_{service}:{env[f'{service.upper()}_DB_PASSWORD']}"
        f"@postgres:5432/kliniki_{service}"
    )
    assert settings.amqp_url.endswith("@rabbitmq:5672/")
    # Tokens verified with identity's keys; no shared signing secret anywhere.
    assert settings.env == "production" and not settings.uses_shared_secret
    assert settings.jwt_jwks_url == "http://identity:8008/.well-known/jwks.json"
    assert "KLINIKI_JWT_SECRET" not in SERVICES[service]["environment"]
    assert settings.jwt_audience == "kliniki" and settings.jwt_issuer == "kliniki-identity"
    for name, file in reference_files().items():
        field = name.removeprefix("KLINIKI_").lower()
        assert str(getattr(settings, field)) == f"/etc/kliniki/{file}"
        mount = f"./{file}:/etc/kliniki/{file}:ro"
        assert mount in SERVICES[service]["volumes"], f"mount {file} so it can be edited"


@pytest.mark.parametrize("service", sorted(PORTS))
def test_service_waits_for_its_migration_and_the_broker(service: str) -> None:
    spec, migrate = SERVICES[service], SERVICES[f"{service}-migrate"]
    assert spec["depends_on"] == {
        f"{service}-migrate": {"condition": "service_completed_successfully"},
        "rabbitmq": {"condition": "service_healthy"},
    }
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    # The same image and settings; compose builds it once, for the service.
    assert migrate["image"] == spec["image"] and "build" not in migrate
    assert migrate["environment"] == spec["environment"]
    assert spec["build"]["args"] == {"SERVICE": service}
    assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / spec["build"]["context"] / spec["build"]["dockerfile"]).exists()


@pytest.mark.parametrize("service", sorted(PORTS))
def test_service_health_check_and_shutdown(service: str) -> None:
    spec = SERVICES[service]
    test = " ".join(spec["healthcheck"]["test"])
    assert f"http://127.0.0.1:{PORTS[service]}/readyz" in test
    assert spec["restart"] == "unless-stopped"
    # Longer than the image's uvicorn grace period (20 s), so SIGKILL never cuts work short.
    assert int(spec["stop_grace_period"].rstrip("s")) > 20
    assert spec["read_only"] is True and spec["cap_drop"] == ["ALL"]


def test_infrastructure_has_health_checks_and_volumes() -> None:
    for name in ("postgres", "rabbitmq"):
        assert SERVICES[name]["healthcheck"]["test"], name
    volumes = set(COMPOSE["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert "rabbitmq-data:/var/lib/rabbitmq" in SERVICES["rabbitmq"]["volumes"]
    assert {"postgres-data", "rabbitmq-data"} <= volumes
    # The broker starts with the plugin every consumer's partitions need (kliniki.consumer).
    assert (
        "./rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro"
        in (SERVICES["rabbitmq"]["volumes"])
    )
    plugins = (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_consistent_hash_exchange" in plugins and "rabbitmq_management" in plugins
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in SERVICES["postgres"]["volumes"]
    # The node name is where RabbitMQ keeps its data: it must not change on recreate.
    assert SERVICES["rabbitmq"]["hostname"] == "rabbitmq"
    assert "management" in SERVICES["rabbitmq"]["image"]
    assert any(p.endswith(":15672:15672") for p in SERVICES["rabbitmq"]["ports"])
    assert "ports" not in SERVICES["postgres"], "PostgreSQL stays on the compose network"


def test_every_variable_compose_uses_is_in_env_example() -> None:
    used = {n for s in walk_strings(COMPOSE) for n in interpolated_names(s)}
    passed_through = {
        k
        for spec in SERVICES.values()
        for k, v in (spec.get("environment") or {}).items()
        if v is None
    }
    documented = set(EXAMPLE) | EXAMPLE_COMMENTED
    assert used - documented == set(), "add them to deploy/.env.example"
    assert passed_through - documented == set(), "document the optional ones (commented)"
    assert set(EXAMPLE) - used == set(), "unused entries in .env.example"


def test_init_script_creates_a_database_and_role_for_every_service() -> None:
    script = (DEPLOY / "postgres-init" / "10-kliniki-databases.sh").read_text()
    listed = re.search(r'^SERVICES="([^"]+)"', script, flags=re.MULTILINE)
    assert listed and set(listed[1].split()) == set(PORTS)
    postgres_env = SERVICES["postgres"]["environment"]
    for service in PORTS:
        var = f"{service.upper()}_DB_PASSWORD"
        assert var in postgres_env, f"compose must hand {var} to the init script"
        url = SERVICES[service]["environment"]["KLINIKI_POSTGRES_URL"]
        assert url.startswith(f"postgresql://kliniki_{service}:${{{var}:?"), url
        assert EXAMPLE[var] == "change-me"


def test_generated_env_has_no_placeholder_and_is_private(tmp_path: Path) -> None:
    module = gen_env_module()
    output = tmp_path / ".env"
    assert module.main(["--output", str(output)]) == 0
    values, _ = read_env_file(output)
    assert "change-me" not in values.values()
    assert set(values) == set(EXAMPLE)
    secrets = [k for k, v in EXAMPLE.items() if v == "change-me"]
    assert len({values[k] for k in secrets}) == len(secrets), "each secret is its own"
    assert all(re.fullmatch(r"[0-9a-f]{48}", values[k]) for k in secrets), "URL-safe"
    assert output.stat().st_mode & 0o077 == 0, "readable by its owner only"
    before = output.read_text()
    module.main(["--output", str(output)])
    assert output.read_text() == before, "never overwrites existing passwords"


def test_interpolation_helper_follows_the_spec() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-d}-${EMPTY:-e}-${EMPTY-f}-$$", env) == "x-d-e--$"
    with pytest.raises(ValueError, match="UNSET"):
        interpolate("${UNSET:?needed}", env)


def test_the_observability_profile_scrapes_every_service_and_charts_real_metrics() -> None:
    """Prometheus scrapes each service's contract port; every metric the Grafana dashboard
    charts is one the code exports (a renamed metric would leave an empty panel)."""
    import json
    import re

    import yaml

    from tests.deployment.support import DEPLOY

    observability = {n: s for n, s in SERVICES.items() if "observability" in s.get("profiles", [])}
    assert set(observability) == {"otel-collector", "jaeger", "prometheus", "grafana"}
    scrape = yaml.safe_load((DEPLOY / "observability" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in scrape["scrape_configs"]
    }
    assert targets == {service: [f"{service}:{port}"] for service, port in PORTS.items()}

    from prometheus_client import REGISTRY

    import kliniki.app  # noqa: F401  (the kernel's metrics)
    import notifier.hub  # noqa: F401  (the notifier's)

    # A family's series: its name and the suffixes Prometheus adds (labelled ones have no
    # samples until first used).
    exported = {
        f"{family.name}{suffix}"
        for family in REGISTRY.collect()
        for suffix in ("", "_total", "_count", "_sum", "_bucket")
    }
    dashboard = json.loads(
        (DEPLOY / "observability" / "grafana" / "dashboards" / "kliniki.json").read_text()
    )
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"\bkliniki_[a-z_]+", target["expr"]):
                assert name in exported, f"{panel['title']}: {name} is not a metric of the code"


def test_the_console_is_served_at_one_origin_with_every_services_routes() -> None:
    """compose's console: nginx on 8080 with /api/<service>/ to each service's contract port
    and /ws to the notifier, the same routes as Vite's preview in `make run`."""
    import re

    from tests.deployment.support import DEPLOY

    console = SERVICES["console"]
    assert console["build"]["dockerfile"] == "deploy/console/Dockerfile"
    assert [str(p).rsplit(":", 1)[-1] for p in console["ports"]] == ["8080"]
    conf = (DEPLOY / "console" / "nginx.conf").read_text()
    routes = dict(
        re.findall(r"location /api/([a-z]+)/ \{\s*proxy_pass http://([a-z:0-9]+)/;", conf)
    )
    assert routes == {service: f"{service}:{port}" for service, port in PORTS.items()}
    assert "proxy_pass http://notifier:8007/ws;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
