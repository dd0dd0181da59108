from kliniki.alembic_env import run_migrations
from pharmacy.models import Base

run_migrations(Base.metadata, "pharmacy")
