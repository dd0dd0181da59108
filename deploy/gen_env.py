"""Write deploy/.env from deploy/.env.example with a fresh random value for every ``change-me``.

    python3 deploy/gen_env.py [--example deploy/.env.example] [--output deploy/.env]

``make up`` runs it when deploy/.env is missing. It never overwrites an existing file (that
would change passwords the database already has), and the file it writes is readable by its
owner only. Standard library only: it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACEHOLDER = "change-me"
# KEY=change-me on an uncommented line.
PLACEHOLDER_LINE = re.compile(rf"^(?P<key>[A-Z][A-Z0-9_]*)={re.escape(PLACEHOLDER)}\s*$")


def render(example: str) -> str:
    """The example with each placeholder replaced by 48 hex characters (URL-safe, 192 bits)."""
    lines = []
    for line in example.splitlines():
        match = PLACEHOLDER_LINE.match(line)
        lines.append(f"{match['key']}={secrets.token_hex(24)}" if match else line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=HERE / ".env.example")
    parser.add_argument("--output", type=Path, default=HERE / ".env")
    args = parser.parse_args(argv)
    if args.output.exists():
        print(f"{args.output} exists; leaving it as it is", file=sys.stderr)
        return 0
    content = render(args.example.read_text())
    # Created with mode 0600 from the start: the secrets are never readable by others.
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(content)
    print(f"wrote {args.output} with new random passwords; keep it safe (and backed up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
