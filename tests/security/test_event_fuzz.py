"""A Socket.IO fuzzer over every event in the server's event table.

Random and hostile payloads, wrong arity and reserved names are sent over raw Engine.IO
frames by a host, a member and a stranger (a participant of another room naming this
one). Every event must get an ack that is not an internal error, the room's state must
stay consistent, and the server must keep answering another client within a bound.

Bounded in ``make test``; ``pytest --fuzz-examples=N`` runs longer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meetbox.client import Client
from meetbox.server import EmbeddedServer
from meetbox.signalling.flood import Rate
from meetbox.signalling.sio import RESERVED
from tests.helpers import eventually
from tests.security.raw import RawSocket, raw_socket

ROOM = "fuzz"
MAX_MESSAGE = 256 * 1024  # the server's max_http_buffer_size
CODES = {
    "invalid_argument",
    "unauthenticated",
    "permission_denied",
    "not_found",
    "already_exists",
    "resource_exhausted",
    "failed_precondition",
    "unavailable",
    "too_large",
}
HOSTILE_TEXT = ["", "\x00", "\ud800", "..", "../../etc/passwd", "a" * 70_000, "\x1b[2J", "fuzz"]


def json_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
        st.sampled_from(HOSTILE_TEXT),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=12,
    )


def payloads_for(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Objects of the event's own fields (mostly), with values of any type."""
    known = st.dictionaries(
        st.sampled_from([*fields, "type", "roomId", "room_id", "id", "$where", "x.y"]),
        json_values(),
        max_size=len(fields) + 2,
    )
    return st.one_of(known, json_values())


@dataclass
class Case:
    sender: str  # host | member | stranger
    event: str
    args: list[Any]


SENDERS = st.sampled_from(["host", "member", "stranger"])


def cases_of(name: str, fields: tuple[str, ...]) -> st.SearchStrategy[Case]:
    """One event's cases: mostly one payload, sometimes none or several."""
    arity = st.sampled_from([1, 1, 1, 1, 0, 2, 4])
    args = arity.flatmap(lambda n: st.lists(payloads_for(fields), min_size=n, max_size=n))
    return st.builds(Case, SENDERS, st.just(name), args)


def reserved_cases() -> st.SearchStrategy[Case]:
    return st.builds(
        Case, SENDERS, st.sampled_from(sorted(RESERVED)), st.lists(json_values(), max_size=3)
    )


class Fuzzer:
    def __init__(self, server: EmbeddedServer) -> None:
        self.server = server
        self.sockets: dict[str, RawSocket] = {}
        self._closers: list[Callable[[], Any]] = []
        self.watcher: Client | None = None
        self.tried: set[str] = set()

    async def socket(self, who: str) -> RawSocket:
        sock = self.sockets.get(who)
        if sock is not None and not sock.closed and not self._left(who):
            return sock
        if sock is not None:
            await sock.close()
        manager = raw_socket(self.server.url)
        sock = await manager.__aenter__()
        self._closers.append(lambda: manager.__aexit__(None, None, None))
        room = "elsewhere" if who == "stranger" else ROOM
        await sock.join(self.server.token(room, who, room_admin=who == "host"))
        self.sockets[who] = sock
        return sock

    def _left(self, who: str) -> bool:
        room = self.server.room("elsewhere" if who == "stranger" else ROOM)
        return room is None or who not in {p.identity for p in room.participants.values()}

    async def run(self, case: Case) -> None:
        self.tried.add(case.event)
        sock = await self.socket(case.sender)
        frame = json.dumps([case.event, *case.args])
        if case.event in RESERVED:
            await sock.send("42" + frame)
        else:
            reply = await sock.call(case.event, *case.args, timeout=10)
            if reply is None and sock.closed:
                # Engine.IO closes a connection whose message is over its buffer size
                assert len(frame.encode()) > MAX_MESSAGE, (case.event, len(frame))
                await self.check()
                return
            assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool), reply
            if not reply["ok"]:
                error = reply["error"]
                assert error["code"] in CODES, (case, error)
                assert isinstance(error["message"], str) and error["message"]
        await self.check()

    async def check(self) -> None:
        assert self.watcher is not None
        # the server still answers someone else, promptly
        async with asyncio.timeout(5):
            await self.watcher.send("view_count")
        # sessions, rooms and Socket.IO rooms agree (once a leave under way has ended)
        await eventually(lambda: not self.inconsistencies(), timeout=5)

    def inconsistencies(self) -> list[str]:
        signalling = self.server.server.signalling  # type: ignore[union-attr]
        found = []
        for room in signalling.rooms:
            for participant in room.participants.values():
                session = signalling.sessions.get(participant.connection_id)
                if session is None or session[1] is not participant:
                    found.append(f"{participant.identity} is in {room.name} without a session")
        for sid, (room, participant) in signalling.sessions.items():
            if room.participants.get(participant.sid) is not participant:
                found.append(f"session {sid} is not in its room")
            if room.name not in set(signalling.sio.rooms(sid)):
                found.append(f"session {sid} is not in its Socket.IO room")
        return found

    async def close(self) -> None:
        for close in reversed(self._closers):
            await close()


def test_every_event_gets_an_ack_and_the_room_stays_consistent(
    request: pytest.FixtureRequest,
) -> None:
    examples = int(request.config.getoption("fuzz_examples"))
    loop = asyncio.new_event_loop()
    server = EmbeddedServer(room={"empty_timeout": 30, "removal_ban_seconds": 0})
    try:
        loop.run_until_complete(server.__aenter__())
        signalling = server.server.signalling  # type: ignore[union-attr]
        # the limits are tested elsewhere: here they would only answer resource_exhausted
        for kind in signalling.events.flood.rates:
            signalling.events.flood.rates[kind] = Rate(1e6, 1_000_000)
        events = {name: spec.fields for name, (spec, _) in signalling.events.entries.items()}
        fuzzer = Fuzzer(server)
        fuzzer.watcher = Client(server.url, server.token(ROOM, "watcher"))
        loop.run_until_complete(fuzzer.watcher.connect())

        def one(case: Case) -> None:
            loop.run_until_complete(asyncio.wait_for(fuzzer.run(case), 30))

        # every event of the table gets its share of the examples, reserved names too
        each = max(3, examples // (len(events) + 1))
        strategies = [cases_of(name, fields) for name, fields in sorted(events.items())]
        for strategy in [*strategies, reserved_cases()]:
            settings(
                max_examples=each,
                deadline=None,
                derandomize=examples <= 1000,
                suppress_health_check=list(HealthCheck),
                database=None,
            )(given(strategy)(one))()
        loop.run_until_complete(fuzzer.check())
        assert set(events) <= fuzzer.tried, sorted(set(events) - fuzzer.tried)
        loop.run_until_complete(fuzzer.watcher.close())
        loop.run_until_complete(fuzzer.close())
    finally:
        loop.run_until_complete(server.__aexit__(None, None, None))
        # as asyncio.run ends: what is left (Engine.IO's ping tasks) is cancelled first
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


pytestmark = pytest.mark.timeout(600)
