"""Tables of the lab database."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from kliniki.access import Stage
from kliniki.db import service_metadata
from kliniki.worklist import define_worklist


class Base(DeclarativeBase):
    metadata = service_metadata()


worklist_models = define_worklist(Base, Stage.LAB)
