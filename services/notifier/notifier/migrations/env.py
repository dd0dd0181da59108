from kliniki.alembic_env import run_migrations
from notifier.models import Base

run_migrations(Base.metadata, "notifier")
