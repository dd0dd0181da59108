from identity.models import Base

from kliniki.alembic_env import run_migrations

run_migrations(Base.metadata, "identity")
