"""The load generator's simulcast publisher and meetings, against a real server: layers
offered as Chrome offers them, each viewer receiving the layer its tile needs, layers
nobody receives paused, and a meeting where everyone receives everyone."""

from __future__ import annotations

import asyncio
from functools import partial
from operator import contains

import pytest
from aiortc import RTCPeerConnection

from meetbox.client import Client
from meetbox.loadtest.clip import Clip, encode_video
from meetbox.loadtest.layerprobe import KeyframeSink, layer_switches
from meetbox.loadtest.runner import LoadSpec, run_load
from meetbox.loadtest.simulcast import SimulcastPublisher, offer_layers
from meetbox.server import EmbeddedServer
from meetbox.sfu.negotiation import parse_sections, simulcast_offer
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(120)

GRAIN = 8


SIZES = (("q", 160, 96, 60_000), ("h", 320, 192, 150_000), ("f", 640, 384, 400_000))


def small_layers(seconds: float = 1) -> list[tuple[str, Clip]]:
    """Three layers; each clip's loop starts at a keyframe (one each ``seconds``)."""
    return [(rid, encode_video(w, h, bps, 30, seconds, grain=GRAIN)) for rid, w, h, bps in SIZES]


async def test_the_offer_names_the_layers_and_no_ssrc() -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        video = pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        assert video.mid is not None
        sdp = offer_layers(pc.localDescription.sdp, video.mid, ["q", "h", "f"])
    finally:
        await pc.close()
    assert simulcast_offer(sdp) == {video.mid: ("q", "h", "f")}
    sections = {s.mid: s for s in parse_sections(sdp)}
    assert sections[video.mid].ssrc is None  # learnt from the RID extension
    assert sections["0"].ssrc is not None  # the audio section is left as it was
    with pytest.raises(ValueError, match="no m-section with mid 9"):
        offer_layers(sdp, "9", ["q"])


async def test_each_viewer_gets_the_layer_its_tile_needs(meetbox_server: EmbeddedServer) -> None:
    room = "layers"
    server = meetbox_server
    publisher = Client(server.url, server.token(room, "pub"), room=room)
    sinks = {"phone": KeyframeSink(), "screen": KeyframeSink()}
    viewers = {
        name: Client(server.url, server.token(room, name), room=room, rtp_sink=sink)
        for name, sink in sinks.items()
    }
    simulcast = SimulcastPublisher(small_layers())
    try:
        await publisher.connect(timeout=30)
        sid = await simulcast.publish(publisher)
        for viewer in viewers.values():
            await viewer.connect(timeout=30)
            await viewer.wait_for(partial(contains, viewer.remote, sid), timeout=30)
        tiles = {"phone": (160, 96), "screen": (640, 384)}
        for name, (width, height) in tiles.items():
            await viewers[name].send(
                "track_settings", {"track_sid": sid, "width": width, "height": height}
            )
        for name, (width, _) in tiles.items():
            assert await sinks[name].wait_width(width, 0.0, 20) is not None, name
        # the middle layer nobody receives is paused at the publisher, the others sent
        layers = {layer.rid: layer for layer in simulcast.layers}
        await eventually(lambda: not layers["h"].active, 10)
        assert layers["q"].active and layers["f"].active
        # the phone's tile hidden: its layer too is paused (nobody else receives it)
        await viewers["phone"].send("track_settings", {"track_sid": sid, "visible": False})
        await eventually(lambda: not layers["q"].active, 10)
        assert layers["f"].active
    finally:
        await simulcast.close()
        await asyncio.gather(*(c.close() for c in (publisher, *viewers.values())))


async def test_a_layer_switch_is_timed(meetbox_server: EmbeddedServer) -> None:
    server = meetbox_server
    key, secret = server.api_key, server.api_secret
    # the clips loop every 4 s: a switch sooner than that came from a keyframe the
    # publisher sent when the server asked for it (a PLI for that layer's SSRC)
    times = await layer_switches(server.url, key, secret, "switch", small_layers(4), 3)
    assert len(times) == 3
    assert all(0 < t < 3000 for t in times), times
    assert sorted(times)[1] < 1000, times


async def test_a_simulcast_meeting_receives_everyone_at_the_tile_size(
    meetbox_server: EmbeddedServer,
) -> None:
    server = meetbox_server
    # the gallery's tiles are 320x180: of the layers 160x90, 320x180 and 640x360 (a 400
    # kbit/s top), each participant gets the middle one of both others
    spec = LoadSpec(
        url=server.url, api_key=server.api_key, api_secret=server.api_secret, room="meet",
        meeting=3, simulcast=True, width=640, height=360, bitrate=400_000, duration=4,
        join_timeout=60,
    )  # fmt: skip
    result = await asyncio.to_thread(run_load, spec)  # it waits on its worker processes
    assert not result.errors, result.errors
    assert result.joined == 3
    assert result.fps_per_subscriber == pytest.approx(60, rel=0.15)  # 2 videos at 30 fps
    assert result.loss <= 0.01
    # two middle layers (~130 kbit/s each) and the talkers' audio: far below two top layers
    assert result.bitrate_per_subscriber < 0.75 * 2 * spec.bitrate
