"""What both peer connections of a participant share: configuration, closing."""

from __future__ import annotations

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection

from meetbox.config import RtcSettings


def new_peer_connection(settings: RtcSettings) -> RTCPeerConnection:
    servers = [RTCIceServer(urls=url) for url in settings.ice_servers]
    # max-bundle: every m-section uses the first one's transport from the start. With aiortc's
    # default (balanced), a section added while an offer is out shares a transport that the
    # answer's BUNDLE then stops, and that track never flows (seen with three browsers).
    config = RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    return RTCPeerConnection(config)
