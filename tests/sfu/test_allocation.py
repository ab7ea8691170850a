"""Sharing one subscriber's downlink among its videos (in memory): what does not fit is
taken from the least important first: largest tiles before smaller ones, an active
speaker's video before the others, a screen share before anything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiortc import RTCPeerConnection

from meetbox.ids import ParticipantSid
from meetbox.sfu.allocation import allocate
from meetbox.sfu.downtrack import DownTrack
from meetbox.sfu.simulcast import SimulcastTrack
from tests.sfu.test_simulcast_memory import SIZES, simulcast_track

RATES = (150_000, 500_000, 1_500_000)


@pytest_asyncio.fixture
async def peer() -> AsyncIterator[RTCPeerConnection]:
    pc = RTCPeerConnection()
    yield pc
    await pc.close()


def measured(track: SimulcastTrack) -> SimulcastTrack:
    for layer, size, rate in zip(track.layers, SIZES, RATES, strict=True):
        layer.size, layer.bitrate = size, float(rate)
    return track


def viewer(peer: RTCPeerConnection, track: SimulcastTrack, view: tuple[int, int]) -> DownTrack:
    down = DownTrack(track, peer.addTransceiver("video", direction="sendonly"), ParticipantSid("s"))
    track.attach(down)
    down.view = view
    return down


async def test_the_speaker_keeps_its_picture_when_the_link_cannot_carry_both(
    peer: RTCPeerConnection,
) -> None:
    quiet, speaker = measured(simulcast_track([])), measured(simulcast_track([]))
    speaker.speaking = True
    downs = [viewer(peer, quiet, (1280, 720)), viewer(peer, speaker, (1280, 720))]
    allocate(downs, 1_700_000)  # one top layer and one bottom layer
    assert [d.max_layer for d in downs] == [0, None]  # None: the link does not limit it
    speaker.speaking, quiet.speaking = False, True
    allocate(downs, 1_700_000)
    assert [d.max_layer for d in downs] == [None, 0]


async def test_a_screen_share_goes_before_a_speaker_and_large_tiles_before_small(
    peer: RTCPeerConnection,
) -> None:
    share, speaker = measured(simulcast_track([])), measured(simulcast_track([]))
    share.source, speaker.speaking = "screen_share", True
    downs = [viewer(peer, speaker, (1280, 720)), viewer(peer, share, (1280, 720))]
    allocate(downs, 1_700_000)
    assert [d.max_layer for d in downs] == [0, None]
    small, large = measured(simulcast_track([])), measured(simulcast_track([]))
    downs = [viewer(peer, small, (640, 360)), viewer(peer, large, (1280, 720))]
    allocate(downs, 700_000)  # the large tile's middle layer and the small tile's bottom
    assert [d.max_layer for d in downs] == [0, 1]
