from kliniki.alembic_env import run_migrations
from lab.models import Base

run_migrations(Base.metadata, "lab")
