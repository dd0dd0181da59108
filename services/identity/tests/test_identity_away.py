"""No request waits on identity: with identity unreachable, a service goes on accepting the
tokens identity signed (it keeps the last key set) and refuses the others at once."""

from __future__ import annotations

import asyncio
import time

from identity import domain

from tests.support.stack import Stack, auth, signed_token
from tests.support.tcp_proxy import TcpProxy


async def test_a_service_keeps_identitys_keys_while_identity_is_away(stack: Stack, http) -> None:
    proxy = await TcpProxy("127.0.0.1", stack.processes["identity"].port).start()
    jwks = f"http://127.0.0.1:{proxy.port}/.well-known/jwks.json"
    replica = stack.start("registration", name="registration-keys", KLINIKI_JWT_JWKS_URL=jwks)
    try:
        await asyncio.to_thread(stack.wait_ready, replica)  # the proxy runs on this loop
        url = f"{replica.url}/visits?status=REGISTERED"
        assert (await http.get(url, headers=auth("alice_receptionist"))).status_code == 200
        proxy.cut()  # identity unreachable from this replica
        started = time.perf_counter()
        for _ in range(3):
            response = await http.get(url, headers=auth("alice_receptionist"))
            assert response.status_code == 200, response.text
        # A key it has never seen: it tries identity (at most every few seconds), then refuses.
        stranger = domain.generate_private_key()
        foreign = signed_token(
            {"sub": "alice_receptionist", "name": "Alice", "roles": ["receptionist"]},
            key=stranger,
            kid=domain.public_jwk(stranger)["kid"],
        )
        response = await http.get(url, headers={"Authorization": f"Bearer {foreign}"})
        assert response.status_code == 401
        assert time.perf_counter() - started < 10
    finally:
        replica.stop()
        await proxy.close()
