"""The baseline a Python user would build: an aiortc SFU on MediaRelay (decode once,
re-encode per subscriber). POST /publish and POST /subscribe take an SDP offer."""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

relay = MediaRelay()
source: asyncio.Future[MediaStreamTrack] | None = None
pcs: set[RTCPeerConnection] = set()


async def publish(request: web.Request) -> web.Response:
    global source
    source = asyncio.get_running_loop().create_future()
    pc = RTCPeerConnection()
    pcs.add(pc)
    pending = source

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video" and not pending.done():
            pending.set_result(track)

    body = await request.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return web.json_response({"sdp": pc.localDescription.sdp})


async def subscribe(request: web.Request) -> web.Response:
    assert source is not None
    track = await asyncio.wait_for(source, 10)
    pc = RTCPeerConnection()
    pcs.add(pc)
    body = await request.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="offer"))
    pc.addTrack(relay.subscribe(track))
    await pc.setLocalDescription(await pc.createAnswer())
    return web.json_response({"sdp": pc.localDescription.sdp})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_post("/publish", publish)
    app.router.add_post("/subscribe", subscribe)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
