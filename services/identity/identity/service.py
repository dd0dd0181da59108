"""Identity's use cases: seed, sign in, refresh, sign out; staff administration.

Each runs in one unit of work (the caller commits, except where a refusal must itself be
kept: a failed sign-in is recorded, a reused refresh token revokes its session).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from anyio import CapacityLimiter, to_thread
from sqlalchemy import delete, func, select, text, update

from identity import domain
from identity.events import STAFF_CREATED, StaffData
from identity.keys import KeyRing
from identity.models import AuthSession, FailedSignIn, RefreshToken, StaffAccount
from identity.schemas import TokenOut
from identity.settings import IdentitySettings
from kliniki.db import utcnow
from kliniki.kernel import Kernel
from kliniki.problems import TooManyRequests, Unauthorized
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


# -- first start -------------------------------------------------------------------------------


async def seed_staff(kernel: Kernel) -> None:
    """A new installation's staff: deploy/staff.yaml with the development password
    (development only), or in production the bootstrap admin when one is configured."""
    settings: IdentitySettings = kernel.settings  # type: ignore[assignment]
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


def _settings(kernel: Kernel) -> IdentitySettings:
    return kernel.settings  # type: ignore[return-value]


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
    settings = _settings(kernel)
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
    settings = _settings(kernel)
    ring: KeyRing = kernel.extras["keys"]
    refresh, refresh_hash = domain.new_refresh_token()
    uow.session.add(
        RefreshToken(token_hash=refresh_hash, session_id=auth_session.id, issued_at=now)
    )
    claims = domain.access_claims(
        user_id=account.id,
        name=account.name,
        # A one-time password's token may only change the password: it carries no role.
        roles=[] if account.must_change_password else list(account.roles),
        session_id=auth_session.id,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        now=now,
        lifetime=dt.timedelta(seconds=settings.access_token_seconds),
    )
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
