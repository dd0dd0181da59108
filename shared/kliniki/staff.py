"""The staff directory (``deploy/staff.yaml``): who works here, their roles, who is on shift."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class StaffMember(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    name: str
    roles: list[str]
    on_duty: bool = False


class StaffDirectory(BaseModel):
    staff: list[StaffMember] = Field(default_factory=list)

    def get(self, user_id: str) -> StaffMember | None:
        return next((s for s in self.staff if s.id == user_id), None)

    def with_role(self, role: str) -> list[StaffMember]:
        return [s for s in self.staff if role in s.roles]


def load_staff(path: Path) -> StaffDirectory:
    if not path.exists():
        return StaffDirectory()
    return StaffDirectory.model_validate(yaml.safe_load(path.read_text()) or {})
