"""What both peer connections of a participant share: configuration, closing."""

from __future__ import annotations

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from meetbox.config import RtcSettings


def new_peer_connection(settings: RtcSettings) -> RTCPeerConnection:
    servers = [RTCIceServer(urls=url) for url in settings.ice_servers]
    return RTCPeerConnection(RTCConfiguration(iceServers=servers))
