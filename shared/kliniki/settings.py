"""Settings every service reads from the environment (prefix ``KLINIKI_``).

One class for all seven services: what differs between them is the service name, and the
defaults derived from it (database name, port). Documented in the README's configuration table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, computed_field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The contract ports (the README's diagram; fixed: clients and the console rely on them).
SERVICE_PORTS: dict[str, int] = {
    "registration": 8001,
    "triage": 8002,
    "clinical": 8003,
    "lab": 8004,
    "pharmacy": 8005,
    "billing": 8006,
    "notifier": 8007,
    "identity": 8008,
}

# uvicorn's --ws for a service whose sockets need more than the default: the notifier writes
# each broadcast frame's bytes once for every socket (services/notifier/notifier/wire.py).
SERVICE_WS_PROTOCOLS: dict[str, str] = {"notifier": "notifier.wire:WireProtocol"}

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV_JWT_SECRET = "kliniki-local-development-secret-change-me"
DEV_PASSWORD = "kliniki"  # deploy/staff.yaml's staff in development; refused in production
DEFAULT_ISSUER = "kliniki-identity"
DEFAULT_AUDIENCE = "kliniki"


class ServiceSettings(BaseSettings):
    """Configuration of one service process."""

    model_config = SettingsConfigDict(env_prefix="KLINIKI_", extra="ignore")

    service_name: str = Field(description="Which service this process runs, e.g. 'triage'.")
    env: Literal["development", "production"] = Field(
        default="development",
        description="'production' refuses the development secret and password.",
    )
    port: int | None = Field(default=None, description="HTTP port; defaults to the contract port.")
    postgres_url: str = Field(
        default="postgresql://postgres@localhost:5432/",
        description="PostgreSQL server URL; each service uses its own database on it.",
    )
    database_name: str | None = Field(
        default=None, description="Database name; defaults to kliniki_<service>."
    )
    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    broker_namespace: str = Field(
        default="",
        description="Prefix for every exchange and queue name; tests use it to stay apart "
        "from a running system on the same broker.",
    )
    jwt_secret: str = Field(
        default=DEV_JWT_SECRET,
        description="HS256 key, only when neither a JWKS URL nor a public key is set (tools "
        "and tests without identity); refused in production.",
    )
    jwt_public_key: str | None = Field(
        default=None, description="PEM public key (ES256/EdDSA/RS256); replaces the secret."
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        description="Where the signing keys are published: identity's "
        "/.well-known/jwks.json, or a hospital's own OIDC provider's.",
    )
    jwt_audience: str = Field(default=DEFAULT_AUDIENCE, description="Required 'aud' of a token.")
    jwt_issuer: str = Field(default=DEFAULT_ISSUER, description="Required 'iss' of a token.")
    jwt_roles_claim: str = Field(
        default="roles",
        description="Claim holding the roles; a dotted path reaches into objects "
        "(Keycloak: 'realm_access.roles').",
    )
    jwt_max_lifetime_seconds: int = Field(
        default=2 * 3600, description="Tokens living longer than this (exp - iat) are refused."
    )
    jwt_leeway_seconds: int = Field(default=3, description="Clock skew allowed on exp/iat.")
    identity_url: str = Field(
        default="http://127.0.0.1:8008", description="Identity, for tools (make token)."
    )
    staff_file: Path = Field(default=REPO_ROOT / "deploy" / "staff.yaml")
    lab_catalogue_file: Path = Field(
        default=REPO_ROOT / "deploy" / "lab_catalogue.yaml",
        description="The lab's tests, analytes and ranges (lab flags results; clinical orders).",
    )
    price_list_file: Path = Field(
        default=REPO_ROOT / "deploy" / "price_list.yaml", description="Billing's prices."
    )
    log_level: str = "INFO"
    log_json: bool = True
    outbox_poll_seconds: float = Field(
        default=5.0,
        description="Safety-net poll of the outbox; the relay is normally woken by its commits.",
    )
    consumer_partitions: int = Field(
        default=8,
        ge=1,
        description="Partition queues per consumer purpose: one patient's events stay in one "
        "partition, in order; the most replicas that share the work (a replica beyond K waits "
        "as a standby).",
    )
    consumer_prefetch: int = Field(
        default=8,
        ge=1,
        description="Events a replica holds at once from each of its partitions: different "
        "patients' among them are handled at once, one patient's in turn.",
    )
    consumer_concurrency: int = Field(
        default=8,
        ge=1,
        description="Events a replica handles at once per consumer purpose, over all its "
        "partitions (each holds one of the service's 20 database connections). More pays "
        "when the database is far (each event waits on round trips); with a nearby one a "
        "replica's core is busy with fewer, and more only lengthens every event's wait.",
    )
    consumer_balance_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a replica compares its partitions with its share and hands "
        "extra ones on to the others.",
    )
    consumer_retry_delays_ms: list[int] = Field(
        default=[500, 5_000, 30_000],
        description="Backoff before each retry of a failed event; then it is dead-lettered.",
    )
    max_body_bytes: int = Field(default=1_000_000, description="Larger request bodies get 413.")
    wait_target_minutes: dict[str, float] = Field(
        default={"RED": 0, "ORANGE": 10, "YELLOW": 60, "GREEN": 240, "UNTRIAGED": 15},
        description="How long a patient may wait at a stage, by SATS colour; UNTRIAGED is the "
        "first stage (registered, not yet triaged) and any stage before a colour is known.",
    )
    clinic_time_zone: str = Field(
        default="Africa/Nairobi", description="The clinic's day for daily reports (IANA name)."
    )
    escalation_poll_seconds: float = Field(
        default=15.0, description="How often each department looks for patients waiting too long."
    )
    outbox_max_attempts: int = Field(
        default=5,
        description="Failed publishes of one outbox row before it is parked for an admin.",
    )
    rate_limit_auth_failures: str = Field(
        default="20/minute",
        description="Refused tokens per client address before 429 (empty: no limit).",
    )
    rate_limit_writes: str = Field(
        default="600/minute", description="Writes per staff member before 429 (empty: no limit)."
    )

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> ServiceSettings:
        if self.env == "production" and self.uses_shared_secret:
            raise ValueError(
                "KLINIKI_ENV=production: tokens must be verified with identity's keys "
                "(set KLINIKI_JWT_JWKS_URL or KLINIKI_JWT_PUBLIC_KEY); a shared HS256 secret, "
                "let alone the public development one, is refused"
            )
        return self

    @property
    def uses_shared_secret(self) -> bool:
        if self.service_name == "identity":
            return False  # identity verifies with its own keys, never with a shared secret
        return not (self.jwt_jwks_url or self.jwt_public_key)

    # mypy does not follow a decorator over @property; pydantic documents this ignore.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def http_port(self) -> int:
        return self.port or SERVICE_PORTS.get(self.service_name, 8000)

    # As above: mypy does not follow a decorator over @property.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def database(self) -> str:
        return self.database_name or f"kliniki_{self.service_name}"

    @property
    def database_url(self) -> str:
        """SQLAlchemy async URL of this service's own database."""
        base = self.postgres_url.rstrip("/")
        base = base.replace("postgresql://", "postgresql+asyncpg://", 1)
        return f"{base}/{self.database}"

    @property
    def asyncpg_dsn(self) -> str:
        """Plain DSN for asyncpg (LISTEN/NOTIFY uses a raw connection)."""
        return f"{self.postgres_url.rstrip('/')}/{self.database}"

    @property
    def maintenance_dsn(self) -> str:
        """DSN of the server's 'postgres' database, used to create this service's database."""
        return f"{self.postgres_url.rstrip('/')}/postgres"

    def exchange_name(self, service: str) -> str:
        """The contract exchange of a publishing service: ``<service>.events``."""
        return f"{self.broker_namespace}{service}.events"

    def queue_name(self, purpose: str) -> str:
        """A durable queue of this service: ``<consumer>.<purpose>``."""
        return f"{self.broker_namespace}{self.service_name}.{purpose}"


class TracingSettings(BaseSettings):
    """OpenTelemetry's standard variables (no KLINIKI_ prefix), as ``kliniki.tracing`` reads
    them to decide whether to trace; the SDK reads the rest (sampler, headers) itself."""

    model_config = SettingsConfigDict(extra="ignore")

    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_traces_exporter: str | None = None
    otel_service_name: str | None = None

    @property
    def enabled(self) -> bool:
        exporter = self.otel_traces_exporter or ""
        endpoint = self.otel_exporter_otlp_endpoint or self.otel_exporter_otlp_traces_endpoint
        return exporter != "none" and bool(endpoint or exporter == "otlp")
