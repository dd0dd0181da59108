"""Identity's use cases: seed, sign in, refresh, sign out; staff administration.

Each runs in one unit of work (the caller commits, except where a refusal must itself be
kept: a failed sign-in is recorded, a reused refresh token revokes its session).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from anyio import CapacityLimiter, to_thread
from sqlalchemy import any_, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity import domain
from identity.events import (
    STAFF_CREATED,
    STAFF_DEACTIVATED,
    STAFF_REACTIVATED,
    STAFF_UPDATED,
    StaffData,
)
from identity.keys import KeyRing
from identity.models import AuthSession, FailedSignIn, RefreshToken, StaffAccount
from identity.schemas import (
    PasswordChange,
    PasswordReset,
    StaffCreate,
    StaffOut,
    StaffUpdate,
    TokenOut,
)
from identity.settings import IdentitySettings, identity_settings
from kliniki.access import Role
from kliniki.auth import PASSWORD_CHANGE_CLAIM
from kliniki.db import load, utcnow
from kliniki.kernel import Kernel
from kliniki.problems import (
    Conflict,
    InvalidInput,
    TooManyRequests,
    Unauthorized,
    check_version,
)
from kliniki.staff import load_staff
from kliniki.uow import UnitOfWork

log = logging.getLogger(__name__)

SEED_LOCK = 0x73656564
# argon2 takes 19 MiB and ~25 ms of a core: at most this many at once, the rest queue.
HASHING = CapacityLimiter(4)
WRONG_CREDENTIALS = "the username or password is wrong"


async def hash_password(password: str) -> str:
    return await to_thread.run_sync(domain.hash_password, password, limiter=HASHING)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await to_thread.run_sync(
        domain.verify_password, password_hash, password, limiter=HASHING
    )


def staff_data(account: StaffAccount) -> StaffData:
    return StaffData(
        user_id=account.id,
        name=account.name,
        roles=list(account.roles),
        active=account.active,
        version=account.version,
    )


def audit_view(account: StaffAccount) -> dict[str, object]:
    """What the audit trail keeps of an account: never the password hash."""
    return {
        "name": account.name,
        "roles": list(account.roles),
        "active": account.active,
        "mustChangePassword": account.must_change_password,
    }


class AccountDirectory:
    """Identity's answer to "is this an active member of staff?": its own accounts, read on
    every request (a deactivated admin is refused at once)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def is_active(self, user_id: str) -> bool:
        async with self.sessionmaker() as session:
            return bool(
                await session.scalar(select(StaffAccount.active).where(StaffAccount.id == user_id))
            )


# -- first start -------------------------------------------------------------------------------


async def seed_staff(kernel: Kernel) -> None:
    """A new installation's staff: deploy/staff.yaml with the development password
    (development only), or in production the bootstrap admin when one is configured."""
    settings = identity_settings(kernel)
    async with kernel.unit_of_work("identity-seed") as uow:
        await uow.session.execute(text("select pg_advisory_xact_lock(:k)"), {"k": SEED_LOCK})
        if await uow.session.scalar(select(func.count()).select_from(StaffAccount)):
            return
        if settings.env == "development":
            members = load_staff(settings.staff_file).staff
            for member in members:
                await create_account(
                    uow,
                    member.id,
                    member.name,
                    member.roles,
                    await hash_password(settings.seed_password),
                    must_change=False,
                )
            log.info("seeded %d staff from %s (development password)", len(members), "staff file")
        elif settings.bootstrap_admin_password:
            await create_account(
                uow,
                "admin",
                "Administrator",
                ["admin"],
                await hash_password(settings.bootstrap_admin_password),
                must_change=True,
            )
            log.info("created the bootstrap admin; its password must be changed at sign-in")
        else:
            return
        await uow.commit()


async def create_account(
    uow: UnitOfWork,
    user_id: str,
    name: str,
    roles: list[str],
    password_hash: str,
    *,
    must_change: bool,
) -> StaffAccount:
    account = StaffAccount(
        id=user_id,
        name=name,
        roles=roles,
        password_hash=password_hash,
        active=True,
        must_change_password=must_change,
    )
    uow.session.add(account)
    await uow.session.flush()
    await uow.audit("CREATE", "STAFF", user_id, after=audit_view(account))
    await uow.publish(STAFF_CREATED, staff_data(account), subject=None)
    return account


# -- sign-in -----------------------------------------------------------------------------------


def _lockout(settings: IdentitySettings) -> domain.LockoutPolicy:
    return domain.LockoutPolicy(
        threshold=settings.lockout_threshold,
        window=dt.timedelta(seconds=settings.lockout_window_seconds),
        base=dt.timedelta(seconds=settings.lockout_base_seconds),
        maximum=dt.timedelta(seconds=settings.lockout_max_seconds),
    )


def _wrong_credentials() -> Unauthorized:
    return Unauthorized(
        WRONG_CREDENTIALS, error="invalid_grant", headers={"WWW-Authenticate": "Bearer"}
    )


async def sign_in(kernel: Kernel, username: str, password: str, request_id: str | None) -> TokenOut:
    """OAuth2 password grant. The same answer, in about the same time, for a wrong password,
    an unknown username and a deactivated account; the lockout counts them all alike."""
    settings = identity_settings(kernel)
    username = username.strip().lower()
    now = utcnow()
    async with kernel.unit_of_work(username or "anonymous", request_id=request_id) as uow:
        session = uow.session
        # Attempts at one username queue behind each other, so the count is exact.
        await session.execute(
            text("select pg_advisory_xact_lock(hashtext(:u))"), {"u": f"sign-in:{username}"}
        )
        failures = list(
            (
                await session.scalars(
                    select(FailedSignIn.failed_at).where(
                        FailedSignIn.username == username,
                        FailedSignIn.failed_at
                        > now - dt.timedelta(seconds=settings.lockout_window_seconds),
                    )
                )
            ).all()
        )
        wait = _lockout(settings).locked_for(failures, now)
        if wait:
            raise TooManyRequests(
                f"too many failed sign-ins for this username; try again in {wait} s",
                headers={"Retry-After": str(wait)},
                error="invalid_grant",
            )
        account = await session.get(StaffAccount, username)
        ok = await verify_password(account.password_hash if account else None, password)
        if not ok or account is None or not account.active:
            session.add(FailedSignIn(username=username, failed_at=now))
            await session.commit()
            raise _wrong_credentials()
        await session.execute(delete(FailedSignIn).where(FailedSignIn.username == username))
        if domain.needs_rehash(account.password_hash):
            account.password_hash = await hash_password(password)
        auth_session = AuthSession(
            id=f"session_{uuid.uuid4().hex}",
            user_id=account.id,
            expires_at=now + dt.timedelta(seconds=settings.refresh_token_seconds),
        )
        session.add(auth_session)
        answer = await _issue(kernel, uow, account, auth_session, now)
        await uow.audit("SIGN_IN", "SESSION", auth_session.id, details=f"user {account.id}")
        await uow.commit()
        return answer


async def _issue(
    kernel: Kernel,
    uow: UnitOfWork,
    account: StaffAccount,
    auth_session: AuthSession,
    now: dt.datetime,
) -> TokenOut:
    """A new access token and a new refresh token of ``auth_session``."""
    settings = identity_settings(kernel)
    ring: KeyRing = kernel.extras["keys"]
    refresh, refresh_hash = domain.new_refresh_token()
    uow.session.add(
        RefreshToken(token_hash=refresh_hash, session_id=auth_session.id, issued_at=now)
    )
    claims = domain.access_claims(
        user_id=account.id,
        name=account.name,
        roles=list(account.roles),
        session_id=auth_session.id,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        now=now,
        lifetime=dt.timedelta(seconds=settings.access_token_seconds),
    )
    if account.must_change_password:
        # A one-time password's token may only change the password (kliniki.web refuses it
        # everywhere else).
        claims[PASSWORD_CHANGE_CLAIM] = True
    await uow.session.flush()
    return TokenOut(
        access_token=ring.sign(claims),
        expires_in=settings.access_token_seconds,
        refresh_token=refresh,
        password_change_required=account.must_change_password,
    )


async def refresh(kernel: Kernel, token: str, request_id: str | None) -> TokenOut:
    """refresh_token grant: a new pair, the old refresh token retired. A retired one presented
    again means it was stolen (or the client is confused): its whole session is revoked."""
    now = utcnow()
    async with kernel.unit_of_work("identity", request_id=request_id) as uow:
        session = uow.session
        row = await session.get(
            RefreshToken, domain.refresh_token_hash(token), with_for_update=True
        )
        if row is None:
            raise Unauthorized(
                "unknown or expired refresh token; sign in again", error="invalid_grant"
            )
        auth_session = await session.get(AuthSession, row.session_id, with_for_update=True)
        assert auth_session is not None
        uow.actor_id = auth_session.user_id
        if auth_session.revoked_at is not None or auth_session.expires_at <= now:
            raise Unauthorized("this session has ended; sign in again", error="invalid_grant")
        if row.used_at is not None:
            await _revoke(uow, auth_session, "refresh token reused", now)
            await uow.commit()
            raise Unauthorized(
                "this refresh token was already used, so the session is revoked; sign in again",
                error="invalid_grant",
            )
        account = await session.get(StaffAccount, auth_session.user_id)
        if account is None or not account.active:
            await _revoke(uow, auth_session, "account deactivated", now)
            await uow.commit()
            raise Unauthorized("this account is deactivated", error="invalid_grant")
        row.used_at = now
        answer = await _issue(kernel, uow, account, auth_session, now)
        await uow.commit()
        return answer


async def _revoke(
    uow: UnitOfWork, auth_session: AuthSession, reason: str, now: dt.datetime
) -> None:
    auth_session.revoked_at = now
    auth_session.revoked_reason = reason
    await uow.audit("REVOKE", "SESSION", auth_session.id, details=reason)


async def revoke_sessions_of(uow: UnitOfWork, user_id: str, reason: str) -> None:
    """Every open session of a user ends now (deactivation, password reset)."""
    await uow.session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def sign_out(kernel: Kernel, token: str, request_id: str | None) -> None:
    """Revoke the session of a refresh token. Unknown tokens are ignored (RFC 7009 2.2)."""
    async with kernel.unit_of_work("identity", request_id=request_id) as uow:
        row = await uow.session.get(RefreshToken, domain.refresh_token_hash(token))
        if row is None:
            return
        auth_session = await uow.session.get(AuthSession, row.session_id, with_for_update=True)
        if auth_session is None or auth_session.revoked_at is not None:
            return
        uow.actor_id = auth_session.user_id
        await _revoke(uow, auth_session, "signed out", utcnow())
        await uow.commit()


# -- staff administration (admin) --------------------------------------------------------------


def staff_out(account: StaffAccount) -> StaffOut:
    return StaffOut.model_validate(account)


async def list_staff(session: AsyncSession, limit: int, after: str | None) -> list[StaffOut]:
    query = select(StaffAccount).order_by(StaffAccount.id).limit(limit)
    if after:
        query = query.where(StaffAccount.id > after)
    return [staff_out(a) for a in (await session.scalars(query)).all()]


async def get_staff(session: AsyncSession, user_id: str) -> StaffOut:
    return staff_out(await load(session, StaffAccount, user_id, "staff member"))


def _check_password(field: str, password: str, user_id: str, name: str = "") -> None:
    problems = domain.password_problems(password, user_id, name)
    if problems:
        raise InvalidInput(field, "; ".join(problems))


async def create_staff(uow: UnitOfWork, body: StaffCreate) -> StaffOut:
    _check_password("password", body.password, body.id, body.name)
    if await uow.session.get(StaffAccount, body.id) is not None:
        raise Conflict(f"there is already a staff member {body.id}")
    account = await create_account(
        uow,
        body.id,
        body.name,
        sorted({r.value for r in body.roles}),
        await hash_password(body.password),
        must_change=True,  # the admin chose it: the nurse chooses her own at first sign-in
    )
    return staff_out(account)


async def _active_admins(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(StaffAccount)
            .where(StaffAccount.active, any_(StaffAccount.roles) == Role.ADMIN.value)
        )
        or 0
    )


async def _refuse_losing_the_last_admin(session: AsyncSession, account: StaffAccount) -> None:
    if account.active and Role.ADMIN.value in account.roles:
        # Lock every admin row so two admins cannot remove each other at the same moment.
        await session.execute(
            select(StaffAccount.id)
            .where(any_(StaffAccount.roles) == Role.ADMIN.value)
            .with_for_update()
        )
        if await _active_admins(session) <= 1:
            raise Conflict(
                f"{account.id} is the last active admin: make someone else an admin first, "
                "or nobody could manage staff any more",
                current=staff_out(account).model_dump(mode="json", by_alias=True),
            )


async def update_staff(
    uow: UnitOfWork, user_id: str, body: StaffUpdate, expected: int | None
) -> StaffOut:
    account = await load(uow.session, StaffAccount, user_id, "staff member", for_update=True)
    before = audit_view(account)
    check_version(
        expected, account.version, staff_out(account).model_dump(mode="json", by_alias=True)
    )
    roles = sorted({r.value for r in body.roles}) if body.roles is not None else None
    if roles is not None and Role.ADMIN.value not in roles:
        await _refuse_losing_the_last_admin(uow.session, account)
    changed = False
    if body.name is not None and body.name != account.name:
        account.name, changed = body.name, True
    if roles is not None and roles != sorted(account.roles):
        account.roles, changed = roles, True
    if changed:
        await uow.session.flush()
        await uow.audit("UPDATE", "STAFF", user_id, before=before, after=audit_view(account))
        await uow.publish(STAFF_UPDATED, staff_data(account), subject=None)
    return staff_out(account)


async def set_active(uow: UnitOfWork, user_id: str, active: bool) -> StaffOut:
    """Deactivate a leaver (refused everywhere as soon as the event arrives; their sessions
    end now) or reactivate them."""
    account = await load(uow.session, StaffAccount, user_id, "staff member", for_update=True)
    if account.active == active:
        return staff_out(account)
    before = audit_view(account)
    if not active:
        await _refuse_losing_the_last_admin(uow.session, account)
        await revoke_sessions_of(uow, user_id, "account deactivated")
    account.active = active
    await uow.session.flush()
    await uow.audit(
        "DEACTIVATE" if not active else "REACTIVATE",
        "STAFF",
        user_id,
        before=before,
        after=audit_view(account),
    )
    await uow.publish(
        STAFF_DEACTIVATED if not active else STAFF_REACTIVATED, staff_data(account), subject=None
    )
    return staff_out(account)


async def reset_password(uow: UnitOfWork, user_id: str, body: PasswordReset) -> StaffOut:
    """A one-time password from the admin: changed at the next sign-in; sessions end now."""
    account = await load(uow.session, StaffAccount, user_id, "staff member", for_update=True)
    _check_password("password", body.password, account.id, account.name)
    account.password_hash = await hash_password(body.password)
    account.must_change_password = True
    account.password_changed_at = utcnow()
    await revoke_sessions_of(uow, user_id, "password reset")
    await uow.session.flush()
    await uow.audit("RESET_PASSWORD", "STAFF", user_id, details="one-time password set")
    return staff_out(account)


async def change_own_password(
    uow: UnitOfWork, user_id: str, session_id: str | None, body: PasswordChange
) -> StaffOut:
    account = await load(uow.session, StaffAccount, user_id, "staff member", for_update=True)
    if not await verify_password(account.password_hash, body.current_password):
        raise InvalidInput("currentPassword", "is not your current password")
    if body.new_password == body.current_password:
        raise InvalidInput("newPassword", "must differ from the current password")
    _check_password("newPassword", body.new_password, account.id, account.name)
    account.password_hash = await hash_password(body.new_password)
    account.must_change_password = False
    account.password_changed_at = utcnow()
    # Every other session ends (a stolen refresh token stops working); this one goes on.
    await uow.session.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.id != (session_id or ""),
        )
        .values(revoked_at=utcnow(), revoked_reason="password changed")
    )
    await uow.session.flush()
    await uow.audit("CHANGE_PASSWORD", "STAFF", user_id, details="changed by its owner")
    return staff_out(account)
