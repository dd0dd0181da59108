"""Print the access matrix of ``kliniki.access`` as the README's Markdown tables.

    .venv/bin/python tools/access_table.py           # print
    .venv/bin/python tools/access_table.py --write   # refresh README.md between its markers

A test checks the README holds exactly this output, so the README cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kliniki.access import (
    CLINICAL_FIELDS,
    CLINICAL_RECORDS,
    FRAME_RECORDS,
    FRAME_ROLES,
    NESTED_RECORDS,
    Role,
    matrix,
)

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
        + " | record carried (its clinical fields hidden from others) |",
        "|---|" + "---|" * len(ROLES) + "---|",
    ]
    for frame, roles in FRAME_ROLES.items():
        marks = " | ".join("✔" if r in roles else "" for r in ROLES)
        kind = FRAME_RECORDS.get(frame, "")
        lines.append(f"| {frame} | {marks} | {kind} |")
    return "\n".join(lines)


def record_table() -> str:
    """The clinical fields of each kind of record: hidden from roles without clinical:read in
    frames, REST answers and audit images alike."""
    lines = ["| record | clinical fields (only for clinical:read) |", "|---|---|"]
    for kind, fields in CLINICAL_FIELDS.items():
        lines.append(f"| {kind} | {', '.join(sorted(fields))} |")
    for kind in sorted(CLINICAL_RECORDS):
        lines.append(f"| {kind} | all but ids, status, actors (…By) and times (…At) |")
    for kind, inside in NESTED_RECORDS.items():
        parts = ", ".join(f"{field} holds a {inner}" for field, inner in inside.items())
        lines.append(f"| {kind} | {parts} |")
    return "\n".join(lines)


def tables() -> str:
    return (
        f"{rest_table()}\n\nWebSocket frames:\n\n{frame_table()}\n\n"
        f"Clinical fields, in frames, REST answers and audit images alike:\n\n{record_table()}\n"
    )


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
