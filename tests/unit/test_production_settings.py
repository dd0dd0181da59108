"""KLINIKI_ENV=production refuses what only suits a developer's machine."""

from __future__ import annotations

import pytest
from identity.settings import IdentitySettings
from pydantic import ValidationError

from kliniki.settings import DEV_PASSWORD, ServiceSettings


def test_a_service_refuses_to_start_on_a_shared_secret_in_production() -> None:
    with pytest.raises(ValidationError, match="KLINIKI_JWT_JWKS_URL"):
        ServiceSettings(service_name="triage", env="production")
    with pytest.raises(ValidationError, match="development"):
        ServiceSettings(service_name="triage", env="production", jwt_secret="my-own-secret-123")
    ok = ServiceSettings(
        service_name="triage",
        env="production",
        jwt_jwks_url="http://identity:8008/.well-known/jwks.json",
    )
    assert not ok.uses_shared_secret


def test_identity_refuses_the_development_password_in_production() -> None:
    with pytest.raises(ValidationError, match="development password"):
        IdentitySettings(env="production", bootstrap_admin_password=DEV_PASSWORD)
    assert IdentitySettings(env="production", bootstrap_admin_password="a-real-one-2026")


def test_development_keeps_working_without_identity() -> None:
    assert ServiceSettings(service_name="triage").uses_shared_secret
