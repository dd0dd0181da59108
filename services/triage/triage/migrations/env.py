from kliniki.alembic_env import run_migrations
from triage.models import Base

run_migrations(Base.metadata, "triage")
