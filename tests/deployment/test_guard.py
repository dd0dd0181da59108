"""The deployment checks follow the code: a service or a setting added to the code but not to
compose.yaml and the Kubernetes manifests makes them fail. Shown here with a made-up service
and a made-up setting, so the guard itself is tested, not only today's files."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from kliniki.settings import ServiceSettings
from tests.deployment.support import (
    DEPLOY,
    compose_problems,
    contract_ports,
    k8s_problems,
    load_compose,
    reference_files,
    render,
    setting_env_names,
)


class SettingsWithANewField(ServiceSettings):
    """What a developer adding a setting to shared/kliniki/settings.py would produce."""

    radiology_pacs_url: str = Field(default="http://pacs.local", description="made up")


def test_the_settings_the_checks_use_are_the_code_fields() -> None:
    names = setting_env_names()
    assert {"KLINIKI_SERVICE_NAME", "KLINIKI_POSTGRES_URL", "KLINIKI_AMQP_URL"} <= names
    assert len(names) == len(ServiceSettings.model_fields)
    assert setting_env_names(SettingsWithANewField) - names == {"KLINIKI_RADIOLOGY_PACS_URL"}


def test_a_new_service_in_the_code_fails_the_compose_and_kubernetes_checks() -> None:
    ports = {**contract_ports(), "radiology": 8008}
    compose = compose_problems(load_compose(), ports, setting_env_names())
    assert "compose: no service 'radiology'" in compose
    for overlay in ("dev", "prod"):
        assert k8s_problems(render(overlay), ports, setting_env_names()) == [
            "k8s: no Deployment 'radiology'"
        ]


def test_a_new_setting_in_the_code_fails_the_compose_and_kubernetes_checks() -> None:
    names = setting_env_names(SettingsWithANewField)
    compose = compose_problems(load_compose(), contract_ports(), names)
    assert compose == [
        f"compose: {service} does not set KLINIKI_RADIOLOGY_PACS_URL"
        for service in contract_ports()
    ]
    problems = k8s_problems(render("prod"), contract_ports(), names)
    # Every container of every service: the migration init container and the service itself.
    assert len(problems) == 2 * len(contract_ports())
    assert all(p.endswith("does not set KLINIKI_RADIOLOGY_PACS_URL") for p in problems)


def test_a_changed_port_fails_the_checks() -> None:
    ports = {**contract_ports(), "triage": 9002}
    assert "compose: triage KLINIKI_PORT is not 9002" in compose_problems(
        load_compose(), ports, setting_env_names()
    )
    assert "k8s: Service triage does not expose port 9002" in k8s_problems(
        render("dev"), ports, setting_env_names()
    )


def test_a_new_reference_data_file_is_noticed() -> None:
    """A setting defaulting to a file in deploy/ must reach the image (test_image.py)."""

    class SettingsWithAFile(ServiceSettings):
        formulary_file: Path = Field(default=DEPLOY / "formulary.yaml")

    assert reference_files(SettingsWithAFile) == {
        **reference_files(),
        "KLINIKI_FORMULARY_FILE": "formulary.yaml",
    }
