"""Identity's own settings: the shared ones plus token lifetimes, lockout and the signing key.

Every field reads ``KLINIKI_<FIELD>`` like the shared settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from kliniki.settings import DEV_PASSWORD, ServiceSettings

if TYPE_CHECKING:
    from kliniki.kernel import Kernel


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    signing_key: str | None = Field(
        default=None,
        description="PEM of an EC P-256 private key (from a Secret). Identity signs with it "
        "(as soon as it is new to identity) and publishes its public half; without it, "
        "identity generates its own keys in its database (make rotate-keys adds one).",
    )
    access_token_seconds: int = Field(default=15 * 60, description="Access token lifetime.")
    refresh_token_seconds: int = Field(
        default=12 * 3600, description="A sign-in session's lifetime (a shift)."
    )
    key_overlap_seconds: int = Field(
        default=120,
        description="A retired key stays published for the access-token lifetime plus this.",
    )
    key_publish_ahead_seconds: int = Field(
        default=10,
        description="A new key is published this long before it signs, so every service has "
        "fetched it by then (they refetch the JWKS on an unknown kid at most every 5 s).",
    )
    lockout_threshold: int = Field(default=5, description="Failed sign-ins before a lockout.")
    lockout_window_seconds: int = Field(default=15 * 60, description="Failures counted over.")
    lockout_base_seconds: int = Field(
        default=60, description="First lockout; it doubles with every further failure."
    )
    lockout_max_seconds: int = Field(default=15 * 60, description="Longest lockout.")
    seed_password: str = Field(
        default=DEV_PASSWORD,
        description="Password of deploy/staff.yaml's staff on first start (development only).",
    )
    bootstrap_admin_password: str | None = Field(
        default=None,
        description="Production: creates the first admin ('admin') with this password, which "
        "must be changed at first sign-in. Or use `make admin-create`.",
    )

    @model_validator(mode="after")
    def _refuse_development_password(self) -> IdentitySettings:
        if self.env == "production" and self.bootstrap_admin_password == DEV_PASSWORD:
            raise ValueError("KLINIKI_BOOTSTRAP_ADMIN_PASSWORD: the development password")
        return self


def identity_settings(kernel: Kernel) -> IdentitySettings:
    """The kernel's settings: identity's main.py built the kernel with ``IdentitySettings``."""
    settings = kernel.settings
    if not isinstance(settings, IdentitySettings):
        raise TypeError(f"identity runs with IdentitySettings, not {type(settings).__name__}")
    return settings
