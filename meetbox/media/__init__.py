"""Pure media code: RTP/RTCP bytes, keyframes, audio levels, synthetic sources.

Nothing here does I/O or imports asyncio, aiohttp, socketio or the other layers.
"""
