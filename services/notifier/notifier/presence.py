"""Who has which entity open, and who is typing where: the state of one replica, and its frames.

A ``PresenceBoard`` holds what this replica's sockets announced (``entity_edit_start``,
``typing_start``) and what the other replicas told it (``on_gossip``), and sends the frames of
services/notifier/README.md to its own sockets whenever the merged picture changes:

- ``presence_state`` to a socket that opens an entity: every member, including the opener;
- ``presence_diff`` to the others in the room: ``joins`` (also a change of mode: joins are
  keyed by ``userId``) and ``leaves``;
- ``typing`` to the others viewing the patient.

A member is a *user*, not a socket: two tabs are one presence, which leaves with the last tab.
Nothing lasts by itself: typing expires ``typing_expiry`` after the last keystroke signal, a socket
that holds presence must be heard from every ``client_timeout`` (any frame; the JS client pings),
and the state another replica told us expires ``replica_expiry`` after it last spoke. ``sweep``
applies those clocks; the board does no I/O of its own (see ``cluster.py`` for the broker side).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kliniki.auth import Principal

log = logging.getLogger(__name__)

Room = tuple[str, str]  # (entityType, entityId)
TypingKey = tuple[str, str, str]  # (patientId, field, userId)
MODES = ("viewing", "editing")
PATIENT = "patient"


class Peer(Protocol):
    """A local socket, as the board needs it."""

    principal: Principal

    def deliver(self, event: str, data: dict[str, Any]) -> bool:
        """Send a frame if the access policy lets this user see it."""
        ...


@dataclass(frozen=True)
class Member:
    """One user's presence in one room."""

    user_id: str
    name: str
    roles: tuple[str, ...]
    mode: str
    since: float  # wall-clock seconds; only shown, never used for expiry

    def as_frame(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "name": self.name,
            "roles": list(self.roles),
            "mode": self.mode,
            "since": dt.datetime.fromtimestamp(self.since, dt.UTC).isoformat(),
        }

    @classmethod
    def from_frame(cls, data: dict[str, Any]) -> Member:
        return cls(
            user_id=str(data["userId"]),
            name=str(data["name"]),
            roles=tuple(str(r) for r in data["roles"]),
            mode=str(data["mode"]) if data["mode"] in MODES else "viewing",
            since=dt.datetime.fromisoformat(data["since"]).timestamp(),
        )


def merge(members: Iterable[Member | None]) -> Member | None:
    """One user seen through several sockets or replicas: editing wins, the earliest since."""
    present = [m for m in members if m is not None]
    if not present:
        return None
    first = min(present, key=lambda m: m.since)
    editing = any(m.mode == "editing" for m in present)
    return Member(
        first.user_id, first.name, first.roles, "editing" if editing else "viewing", first.since
    )


def _shown(member: Member | None) -> tuple[str, str] | None:
    """What a diff is about: present or not, and in which mode (``since`` changes are noise)."""
    return None if member is None else (member.user_id, member.mode)


@dataclass
class Seat:
    mode: str
    since: float


@dataclass
class SocketState:
    seats: dict[Room, Seat] = field(default_factory=dict)
    typing: set[tuple[str, str]] = field(default_factory=set)  # (patientId, field)
    last_heard: float = 0.0
    live: bool = True  # False once silent past the client timeout, until heard again


@dataclass
class TypingEntry:
    name: str
    roles: tuple[str, ...]
    expires: float  # monotonic
    peer: Peer | None = None  # the local socket that signalled it
    gossiped: float = 0.0


@dataclass
class RemoteReplica:
    last_heard: float
    members: dict[Room, dict[str, Member]] = field(default_factory=dict)
    typing: dict[TypingKey, TypingEntry] = field(default_factory=dict)


Gossip = Callable[[dict[str, Any]], None]


class PresenceBoard:
    def __init__(
        self,
        replica_id: str,
        *,
        typing_expiry: float,
        replica_expiry: float,
        client_timeout: float,
        gossip: Gossip = lambda _message: None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.replica_id = replica_id
        self.typing_expiry = typing_expiry
        self.replica_expiry = replica_expiry
        self.client_timeout = client_timeout
        self.gossip = gossip
        self.clock = clock
        self.wall_clock = wall_clock
        self._sockets: dict[Peer, SocketState] = {}
        self._rooms: dict[Room, set[Peer]] = defaultdict(set)  # every socket in the room
        self._typing: dict[TypingKey, TypingEntry] = {}  # signalled by local sockets
        self._remote: dict[str, RemoteReplica] = {}
        self.snapshot_wanted = False  # another replica said hello: tell it everything soon

    # -- what the world looks like ------------------------------------------------------------

    def _local_member(self, room: Room, user_id: str) -> Member | None:
        seats = []
        for peer in self._rooms.get(room, ()):
            state = self._sockets[peer]
            if peer.principal.user_id == user_id and state.live:
                seats.append((peer.principal, state.seats[room]))
        return merge(
            Member(p.user_id, p.name, tuple(sorted(p.roles)), seat.mode, seat.since)
            for p, seat in seats
        )

    def _member(self, room: Room, user_id: str) -> Member | None:
        return merge(
            [
                self._local_member(room, user_id),
                *(r.members.get(room, {}).get(user_id) for r in self._remote.values()),
            ]
        )

    def _user_ids(self, room: Room) -> set[str]:
        users = {p.principal.user_id for p in self._rooms.get(room, ())}
        for remote in self._remote.values():
            users.update(remote.members.get(room, {}))
        return users

    def members(self, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
        """Everyone with the entity open, on any replica, the earliest first."""
        room = (entity_type, entity_id)
        found = [self._member(room, u) for u in self._user_ids(room)]
        return [m.as_frame() for m in sorted(filter(None, found), key=lambda m: m.since)]

    def _typing_entry(self, key: TypingKey) -> TypingEntry | None:
        if key in self._typing:
            return self._typing[key]
        return next((r.typing[key] for r in self._remote.values() if key in r.typing), None)

    def typing_now(self, patient_id: str) -> list[TypingKey]:
        keys = {k for k in self._typing if k[0] == patient_id}
        for remote in self._remote.values():
            keys.update(k for k in remote.typing if k[0] == patient_id)
        return sorted(keys)

    def rooms_of(self, peer: Peer) -> list[Room]:
        state = self._sockets.get(peer)
        return list(state.seats) if state else []

    # -- turning changes into frames ----------------------------------------------------------

    def _changing(
        self,
        keys: Iterable[tuple[Room, str]],
        change: Callable[[], None],
        *,
        opener: Peer | None = None,
        local: bool = True,
    ) -> None:
        """Apply ``change``; tell every local socket in the affected rooms what it changed, and
        the other replicas what this replica's own share became (when ``local``)."""
        keys = set(keys)
        before = {k: self._member(*k) for k in keys}
        mine_before = {k: self._local_member(*k) for k in keys} if local else {}
        change()
        joins: dict[Room, list[Member]] = defaultdict(list)
        leaves: dict[Room, list[Member]] = defaultdict(list)
        for key in keys:
            room, _user = key
            after, was = self._member(*key), before[key]
            if _shown(after) != _shown(was):
                if after is not None:
                    joins[room].append(after)
                elif was is not None:
                    leaves[room].append(was)
            if local:
                mine, mine_was = self._local_member(*key), mine_before[key]
                if _shown(mine) != _shown(mine_was) or (
                    mine and mine_was and mine.since != mine_was.since
                ):
                    self.gossip(
                        {
                            "kind": "presence",
                            "entityType": room[0],
                            "entityId": room[1],
                            "userId": key[1],
                            "member": mine.as_frame() if mine else None,
                        }
                    )
        for room in set(joins) | set(leaves):
            data = {
                "entityType": room[0],
                "entityId": room[1],
                "joins": [m.as_frame() for m in joins[room]],
                "leaves": [m.as_frame() for m in leaves[room]],
            }
            for peer in list(self._rooms.get(room, ())):
                if peer is not opener:
                    peer.deliver("presence_diff", data)

    def _typing_changing(self, keys: Iterable[TypingKey], change: Callable[[], object]) -> None:
        keys = set(keys)
        before = {k: self._typing_entry(k) for k in keys}
        change()
        for key in sorted(keys):
            entry = self._typing_entry(key)
            was, now = before[key], entry
            if (was is None) == (now is None):
                continue
            shown = now or was
            assert shown is not None
            self._send_typing(key, shown, now is not None)

    def _send_typing(
        self, key: TypingKey, entry: TypingEntry, is_typing: bool, to: Peer | None = None
    ) -> None:
        patient_id, field_name, user_id = key
        data = {
            "patientId": patient_id,
            "field": field_name,
            "userId": user_id,
            "name": entry.name,
            "isTyping": is_typing,
        }
        targets = [to] if to else list(self._rooms.get((PATIENT, patient_id), ()))
        for peer in targets:
            if peer.principal.user_id != user_id:  # "the others viewing that patient"
                peer.deliver("typing", data)

    # -- this replica's sockets ---------------------------------------------------------------

    def _state(self, peer: Peer) -> SocketState:
        state = self._sockets.get(peer)
        if state is None:
            state = self._sockets[peer] = SocketState(last_heard=self.clock())
        return state

    def join(self, peer: Peer, entity_type: str, entity_id: str, mode: str = "viewing") -> None:
        """``entity_edit_start``: the opener gets ``presence_state``, the others a diff."""
        room = (entity_type, entity_id)
        state = self._state(peer)
        key = (room, peer.principal.user_id)
        seat = state.seats.get(room)

        def sit() -> None:
            state.seats[room] = Seat(mode, seat.since if seat else self.wall_clock())
            self._rooms[room].add(peer)

        self._changing([key], sit, opener=peer)
        peer.deliver(
            "presence_state",
            {"entityType": entity_type, "entityId": entity_id, "members": self.members(*room)},
        )
        if entity_type == PATIENT:  # who is typing already
            for typing_key in self.typing_now(entity_id):
                entry = self._typing_entry(typing_key)
                if entry is not None:
                    self._send_typing(typing_key, entry, True, to=peer)

    def leave(self, peer: Peer, entity_type: str, entity_id: str) -> None:
        """``entity_edit_end`` (also when the socket goes)."""
        room = (entity_type, entity_id)
        state = self._sockets.get(peer)
        if state is None or room not in state.seats:
            return

        def stand() -> None:
            del state.seats[room]
            self._rooms[room].discard(peer)
            if not self._rooms[room]:
                del self._rooms[room]

        self._changing([(room, peer.principal.user_id)], stand)
        if entity_type == PATIENT:  # who leaves a patient stops typing in it
            for patient_id, field_name in list(state.typing):
                if patient_id == entity_id:
                    self.typing(peer, patient_id, field_name, False)

    def typing(self, peer: Peer, patient_id: str, field_name: str, is_typing: bool) -> None:
        """``typing_start`` (also each later keystroke signal) and ``typing_stop``."""
        state = self._state(peer)
        principal = peer.principal
        key = (patient_id, field_name, principal.user_id)
        now = self.clock()
        if is_typing:
            entry = self._typing.get(key)
            if entry is not None:  # a keystroke: push the expiry on; tell the others now and then
                entry.expires = now + self.typing_expiry
                entry.peer = peer
                state.typing.add((patient_id, field_name))
                if now - entry.gossiped >= self.typing_expiry / 3:
                    entry.gossiped = now
                    self._gossip_typing(key, entry, True)
                return
            entry = TypingEntry(
                principal.name, tuple(sorted(principal.roles)), now + self.typing_expiry, peer, now
            )
            state.typing.add((patient_id, field_name))
            self._typing_changing([key], lambda: self._typing.__setitem__(key, entry))
            self._gossip_typing(key, entry, True)
        else:
            state.typing.discard((patient_id, field_name))
            self._stop_local_typing(key)

    def _stop_local_typing(self, key: TypingKey) -> None:
        entry = self._typing.get(key)
        if entry is None:
            return
        self._typing_changing([key], lambda: self._typing.pop(key, None))
        if entry.peer is not None and entry.peer in self._sockets:
            self._sockets[entry.peer].typing.discard(key[:2])
        self._gossip_typing(key, entry, False)

    def _gossip_typing(self, key: TypingKey, entry: TypingEntry, is_typing: bool) -> None:
        self.gossip(
            {
                "kind": "typing",
                "patientId": key[0],
                "field": key[1],
                "userId": key[2],
                "name": entry.name,
                "roles": list(entry.roles),
                "isTyping": is_typing,
            }
        )

    def heard(self, peer: Peer) -> None:
        """The socket sent something: it is alive. If it had been given up, it is back."""
        state = self._sockets.get(peer)
        if state is None:
            return
        state.last_heard = self.clock()
        if not state.live:
            keys = [(room, peer.principal.user_id) for room in state.seats]
            self._changing(keys, lambda: setattr(state, "live", True))

    def drop(self, peer: Peer) -> None:
        """The socket is gone: it leaves everything and stops typing."""
        state = self._sockets.get(peer)
        if state is None:
            return
        for entity_type, entity_id in list(state.seats):
            self.leave(peer, entity_type, entity_id)
        for key in [k for k, e in self._typing.items() if e.peer is peer]:
            self._stop_local_typing(key)
        del self._sockets[peer]

    # -- the other replicas -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything this replica's sockets hold: the heartbeat other replicas expire us by."""
        presence = []
        for room, peers in self._rooms.items():
            for user_id in {p.principal.user_id for p in peers}:
                member = self._local_member(room, user_id)
                if member is not None:
                    presence.append(
                        {"entityType": room[0], "entityId": room[1], "member": member.as_frame()}
                    )
        typing = [
            {
                "patientId": k[0],
                "field": k[1],
                "userId": k[2],
                "name": e.name,
                "roles": list(e.roles),
            }
            for k, e in self._typing.items()
        ]
        return {"kind": "snapshot", "presence": presence, "typing": typing}

    def on_gossip(self, message: dict[str, Any]) -> None:
        """A message from another replica (our own come back too, and are ignored)."""
        replica = message.get("replica")
        if not isinstance(replica, str) or replica == self.replica_id:
            return
        kind = message.get("kind")
        if kind == "bye":
            self._forget(replica)
            return
        remote = self._remote.get(replica)
        if remote is None:
            remote = self._remote[replica] = RemoteReplica(self.clock())
            self.snapshot_wanted = True  # a replica we did not know: it may not know us either
        remote.last_heard = self.clock()
        try:
            if kind == "hello":
                self.snapshot_wanted = True
            elif kind == "snapshot":
                self._apply_snapshot(remote, message)
            elif kind == "presence":
                self._apply_presence(remote, message)
            elif kind == "typing":
                self._apply_typing(remote, message)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring malformed presence gossip from %s: %s", replica, exc)

    def _apply_presence(self, remote: RemoteReplica, message: dict[str, Any]) -> None:
        room = (str(message["entityType"]), str(message["entityId"]))
        user_id = str(message["userId"])
        member = Member.from_frame(message["member"]) if message.get("member") else None

        def change() -> None:
            users = remote.members.setdefault(room, {})
            if member is None:
                users.pop(user_id, None)
            else:
                users[user_id] = member
            if not users:
                del remote.members[room]

        self._changing([(room, user_id)], change, local=False)

    def _remote_typing_expiry(self) -> float:
        # A little longer than the origin's own clock: the origin sends the stop; this only
        # catches a replica that died mid-word.
        return self.clock() + self.typing_expiry * 4 / 3

    def _apply_typing(self, remote: RemoteReplica, message: dict[str, Any]) -> None:
        key = (str(message["patientId"]), str(message["field"]), str(message["userId"]))
        if message["isTyping"]:
            entry = TypingEntry(
                str(message["name"]), tuple(message["roles"]), self._remote_typing_expiry()
            )
            self._typing_changing([key], lambda: remote.typing.__setitem__(key, entry))
        else:
            self._typing_changing([key], lambda: remote.typing.pop(key, None))

    def _apply_snapshot(self, remote: RemoteReplica, message: dict[str, Any]) -> None:
        members: dict[Room, dict[str, Member]] = defaultdict(dict)
        for item in message["presence"]:
            member = Member.from_frame(item["member"])
            members[(str(item["entityType"]), str(item["entityId"]))][member.user_id] = member
        typing = {
            (str(t["patientId"]), str(t["field"]), str(t["userId"])): TypingEntry(
                str(t["name"]), tuple(t["roles"]), self._remote_typing_expiry()
            )
            for t in message["typing"]
        }
        keys = {(room, u) for room, users in members.items() for u in users}
        keys |= {(room, u) for room, users in remote.members.items() for u in users}

        def replace_members() -> None:
            remote.members = dict(members)

        self._changing(keys, replace_members, local=False)
        self._typing_changing(
            set(typing) | set(remote.typing), lambda: setattr(remote, "typing", typing)
        )

    def _forget(self, replica: str) -> None:
        """A replica said bye or went silent: everything it held leaves."""
        remote = self._remote.get(replica)
        if remote is None:
            return
        keys = {(room, u) for room, users in remote.members.items() for u in users}
        self._changing(keys, lambda: remote.members.clear(), local=False)
        self._typing_changing(list(remote.typing), lambda: remote.typing.clear())
        del self._remote[replica]

    # -- clocks -------------------------------------------------------------------------------

    def sweep(self) -> None:
        """Expire typing, silent sockets and silent replicas."""
        now = self.clock()
        for key in [k for k, e in self._typing.items() if e.expires <= now]:
            self._stop_local_typing(key)
        for remote in self._remote.values():
            stale = [k for k, e in remote.typing.items() if e.expires <= now]
            if stale:
                self._typing_changing(stale, functools.partial(_forget_typing, remote, stale))
        for replica, remote in list(self._remote.items()):
            if now - remote.last_heard > self.replica_expiry:
                log.info("presence replica %s went silent; its presence leaves", replica)
                self._forget(replica)
        for peer, state in list(self._sockets.items()):
            silent = now - state.last_heard > self.client_timeout
            if silent and state.live and (state.seats or state.typing):
                self._give_up(peer, state)

    def _give_up(self, peer: Peer, state: SocketState) -> None:
        """A socket that stopped talking: shown as gone (its TCP may be dead without a FIN)."""
        keys = [(room, peer.principal.user_id) for room in state.seats]
        self._changing(keys, lambda: setattr(state, "live", False))
        for key in [k for k, e in self._typing.items() if e.peer is peer]:
            self._stop_local_typing(key)

    @property
    def remote_replicas(self) -> list[str]:
        return sorted(self._remote)


def _forget_typing(remote: RemoteReplica, keys: list[TypingKey]) -> None:
    for key in keys:
        remote.typing.pop(key, None)
