from kliniki.alembic_env import run_migrations
from clinical.models import Base

run_migrations(Base.metadata, "clinical")
