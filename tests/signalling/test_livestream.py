"""Livestream mode: viewers (not hosts, publishing nothing) are announced to the hosts only."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from meetbox.client import Client
from meetbox.server import EmbeddedServer
from meetbox.tracks import CounterVideoTrack
from tests.api.conftest import Rest, api_settings

pytestmark = pytest.mark.timeout(60)


def identities(client: Client) -> set[str]:
    return {p["identity"] for p in client.participants.values()}


def joined(client: Client) -> list[str]:
    return [d["participant"]["identity"] for e, d in client.events if e == "participant_joined"]


def left(client: Client) -> list[str]:
    return [d["identity"] for e, d in client.events if e == "participant_left"]


async def test_viewers_are_announced_to_hosts_until_they_publish() -> None:
    async with EmbeddedServer(room={"skip_viewer_broadcast": True}) as server:
        host = server.client("live", "host", room_admin=True)
        speaker = server.client("live", "speaker")
        first = server.client("live", "first")
        second = server.client("live", "second")
        async with host, speaker:
            await speaker.publish(CounterVideoTrack())
            await host.wait_for(lambda: "speaker" in identities(host))
            async with first, second:
                # the viewers watch the speaker and know the host, but not each other
                await first.wait_for_track(identity="speaker", kind="video")
                await second.wait_for_track(identity="speaker", kind="video")
                assert identities(second) == {"host", "speaker"}
                await host.wait_for(lambda: {"first", "second"} <= identities(host))
                # the view count still counts them, once the second's changes are gathered
                await speaker.wait_for(
                    lambda: [d for e, d in speaker.events if e == "view_count" and d["count"] == 4]
                )

                # a viewer who publishes is announced to everyone who did not know it
                await first.publish(CounterVideoTrack())
                await second.wait_for_track(identity="first", kind="video")
                await speaker.wait_for_track(identity="first", kind="video")
                assert "first" in identities(second) and "first" in identities(speaker)
                await second.close()
                await host.wait_for(lambda: "second" in left(host))
                # nothing about the other viewer reached those who are not hosts
                for client in (speaker, first):
                    assert "second" not in joined(client) + left(client)
                    assert "second" not in identities(client)
                assert joined(speaker) == ["first"]
                # the host knew the first viewer from its join: told once
                assert joined(host) == ["speaker", "first", "second"]


async def test_a_webinar_room_is_a_livestream_and_the_microphone_reaches_its_viewer() -> None:
    async with (
        EmbeddedServer(api=api_settings()) as server,
        aiohttp.ClientSession() as session,
    ):
        rest = Rest(server, session)
        owner = await rest.user("owner")
        body = {"name": "Launch", "type": "webinar", "isPrivate": False}
        made = await rest.call("POST", "/room/create", json=body, token=owner.token)
        room = made.body["data"]["id"]

        async def token(name: str, bearer: str | None = None) -> str:
            reply = await rest.call(
                "POST", f"/room/{room}/token", json={"name": name}, token=bearer
            )
            return str(reply.body["data"]["token"])

        host = Client(server.url, await token("Owner", owner.token))
        ann = Client(server.url, await token("Ann"))
        bob = Client(server.url, await token("Bob"))
        async with host, ann, bob:
            assert bob.room is not None
            await host.wait_for(lambda: {"Ann", "Bob"} <= names(host))
            assert names(bob) == {"Owner"} and names(ann) == {"Owner"}
            assert ann.me is not None and ann.me["permission"]["can_publish"] is False
            # the host gives Ann the microphone: Ann is told, though nobody else knows her
            await ann.send("request-mic", {"msg": "a question"})
            await host.send("request-mic-accepted", {"id": ann.me["identity"]})
            await ann.wait_for(
                lambda: (ann.me is not None and ann.me["permission"]["can_publish"]) or None
            )
            assert "Ann" not in names(bob)
            assert not [e for e, d in bob.events if e == "participant_updated"]


def names(client: Client) -> set[Any]:
    return {p["name"] for p in client.participants.values()}
