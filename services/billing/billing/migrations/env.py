from kliniki.alembic_env import run_migrations
from billing.models import Base

run_migrations(Base.metadata, "billing")
