"""Operators' commands, run where identity's database is reachable (a pod, the server):

    python -m identity.admin create <user id> [--name NAME] [--roles admin ...]
    python -m identity.admin rotate-keys
    python -m identity.admin announce

``make admin-create USER=...`` and ``make rotate-keys`` call them. ``create`` prompts for the
password twice (or reads one line from a pipe), checks it against the password rules, and
creates the account in one transaction with its audit record and its ``staff.created`` event
(a running identity's outbox relay publishes it). ``rotate-keys`` adds a signing key: new tokens
carry its ``kid`` at once on every replica within RELOAD_SECONDS, and the old public key stays
in the JWKS until the tokens it signed have expired. ``announce`` publishes every account again
(``staff.updated``), for a service whose staff directory missed events (one started for the
first time after staff were created, whose queue did not exist yet).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from sqlalchemy import select

from identity import domain, keys, service
from identity.events import STAFF_UPDATED
from identity.models import Base, StaffAccount
from identity.settings import IdentitySettings
from kliniki.access import Role
from kliniki.kernel import Kernel


def read_password(user_id: str) -> str:
    if not sys.stdin.isatty():  # piped in (a script, a secrets manager)
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {user_id}: ")
        if getpass.getpass("again: ") != password:
            sys.exit("the two passwords differ; nothing was created")
    problems = domain.password_problems(password, user_id)
    if problems:
        sys.exit("password refused: " + "; ".join(problems))
    return password


async def create(kernel: Kernel, user_id: str, name: str, roles: list[str], password: str) -> None:
    async with kernel.unit_of_work("identity-cli") as uow:
        if await uow.session.get(StaffAccount, user_id) is not None:
            sys.exit(f"{user_id} exists already; reset its password through /staff instead")
        await service.create_account(
            uow, user_id, name, roles, await service.hash_password(password), must_change=False
        )
        await uow.commit()
    print(f"created {user_id} ({', '.join(roles)}); sign in at identity's /auth/token")


async def announce(kernel: Kernel) -> None:
    async with kernel.unit_of_work("identity-cli") as uow:
        accounts = (await uow.session.scalars(select(StaffAccount))).all()
        for account in accounts:
            await uow.publish(STAFF_UPDATED, service.staff_data(account), subject=None)
        await uow.commit()
    print(f"announced {len(accounts)} staff members (staff.updated)")


async def run(args: argparse.Namespace) -> None:
    settings = IdentitySettings()
    kernel = Kernel.build(settings, Base.metadata)
    kernel.extras["keys"] = keys.KeyRing(settings)
    try:
        if args.command == "create":
            roles = args.roles or [Role.ADMIN.value]
            unknown = set(roles) - {r.value for r in Role}
            if unknown:
                sys.exit(f"unknown roles: {', '.join(sorted(unknown))}")
            password = read_password(args.user)
            await create(kernel, args.user, args.name or args.user, roles, password)
        elif args.command == "announce":
            await announce(kernel)
        else:
            await keys.ensure_keys(kernel)
            key = await keys.rotate(kernel)
            print(f"new signing key {key.kid}; older keys stay published until their tokens end")
    finally:
        await kernel.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Identity's operator commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    create_cmd = commands.add_parser("create", help="create a staff account (the first admin)")
    create_cmd.add_argument("user")
    create_cmd.add_argument("--name")
    create_cmd.add_argument("--roles", nargs="+", help="default: admin")
    commands.add_parser("rotate-keys", help="add a new signing key")
    commands.add_parser("announce", help="publish every account again (staff.updated)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
