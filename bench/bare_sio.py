"""A bare python-socketio server: every client joins one room; chat-box is re-emitted to it."""

from __future__ import annotations

import argparse
from typing import Any

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp")


@sio.event  # type: ignore[untyped-decorator]
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    await sio.enter_room(sid, "bench")


@sio.on("chat-box")  # type: ignore[untyped-decorator]
async def chat(sid: str, data: Any) -> dict[str, Any]:
    await sio.emit("chat-box", {"type": "chat-box", "msg": data["msg"]}, room="bench", skip_sid=sid)
    return {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    sio.attach(app)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
