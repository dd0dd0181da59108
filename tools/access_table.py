"""Print the access matrix of ``kliniki.access`` as the README's Markdown tables.

    .venv/bin/python tools/access_table.py           # print
    .venv/bin/python tools/access_table.py --write   # refresh README.md between its markers

A test checks the README holds exactly this output, so the README cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kliniki.access import CLINICAL_FRAME_FIELDS, FRAME_ROLES, Role, matrix

ROLES = list(Role)


def rest_table() -> str:
    lines = [
        "| permission | worklist | " + " | ".join(r.value for r in ROLES) + " |",
        "|---|---|" + "---|" * len(ROLES),
    ]
    for permission, stage, roles in matrix():
        marks = " | ".join("✔" if r.value in roles else "" for r in ROLES)
        lines.append(f"| {permission} | {stage} | {marks} |")
    return "\n".join(lines)


def frame_table() -> str:
    lines = [
        "| frame | "
        + " | ".join(r.value for r in ROLES)
        + " | clinical fields (hidden from others) |",
        "|---|" + "---|" * len(ROLES) + "---|",
    ]
    for frame, roles in FRAME_ROLES.items():
        marks = " | ".join("✔" if r in roles else "" for r in ROLES)
        hidden = ", ".join(sorted(CLINICAL_FRAME_FIELDS.get(frame, ()))) or ""
        lines.append(f"| {frame} | {marks} | {hidden} |")
    return "\n".join(lines)


def tables() -> str:
    return f"{rest_table()}\n\nWebSocket frames:\n\n{frame_table()}\n"


START, END = "<!-- access-matrix:start -->", "<!-- access-matrix:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(readme: str) -> str:
    return readme.split(START, 1)[1].split(END, 1)[0].strip("\n")


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
