"""The presence and typing policy of ``kliniki.access`` as services/notifier/README.md shows it.

    .venv/bin/python -m notifier.policy_table           # print
    .venv/bin/python -m notifier.policy_table --write   # refresh the README between its markers

A test checks the README holds exactly this, so the document cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kliniki.access import (
    PRESENCE_ENTITY_ROLES,
    TYPING_FIELD_ROLES,
    TYPING_FIELDS,
    Role,
    TypingFieldGroup,
)

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- presence-policy:start -->", "<!-- presence-policy:end -->"
ROLES = list(Role)


def _marks(roles: frozenset[Role]) -> str:
    return " | ".join("✔" if r in roles else "" for r in ROLES)


def tables() -> str:
    header = " | ".join(r.value for r in ROLES)
    lines = [
        "Presence (`entity_edit_start`, `presence_state`, `presence_diff`, `GET /presence`):",
        "",
        f"| entityType | {header} |",
        "|---|" + "---|" * len(ROLES),
    ]
    lines += [f"| {e} | {_marks(roles)} |" for e, roles in PRESENCE_ENTITY_ROLES.items()]
    lines += [
        "",
        "Typing in a field of a patient (`typing_start`, `typing`):",
        "",
        f"| fields | {header} |",
        "|---|" + "---|" * len(ROLES),
    ]
    for group in TypingFieldGroup:
        names = ", ".join(sorted(TYPING_FIELDS.get(group, ()))) or "every other field"
        lines.append(f"| {group.value}: {names} | {_marks(TYPING_FIELD_ROLES[group])} |")
    return "\n".join(lines) + "\n"


def readme_block(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def write_readme() -> None:
    text = README.read_text()
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{tables()}{END}{after}")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_readme()
    else:
        print(tables(), end="")
