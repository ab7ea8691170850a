"""meetbox: a self-contained video-meeting server (WebRTC SFU, Socket.IO signalling)."""

__version__ = "0.1.0"
