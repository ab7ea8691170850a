"""The ``meetbox`` command line: ``serve`` and ``token``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from pathlib import Path

from meetbox import __version__
from meetbox.config import Settings, load_settings
from meetbox.keys import load_or_create_keys
from meetbox.signalling.tokens import VideoGrant, mint_token

TTL = re.compile(r"^(\d+)([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    match = TTL.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"ttl {text!r} must look like 90s, 30m, 6h or 2d")
    return int(match.group(1)) * UNITS[match.group(2)]


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config, os.environ)
    overrides = {}
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return settings.replace(server=overrides) if overrides else settings


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def _serve(settings: Settings) -> None:
    from meetbox.app import MeetboxServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = MeetboxServer(settings)
    if server.keys.created:
        _say("meetbox generated an API key and secret (shown once; kept in the data directory):")
        _say(f"  API key:    {server.keys.api_key}")
        _say(f"  API secret: {server.keys.api_secret}")
    await server.start()
    _say(f"meetbox {__version__} listening on {server.url} (data in {settings.server.data_dir})")
    _say("  a token:  meetbox token --room demo --identity alice")
    _say(f"  then open {server.url}/r/demo?token=<the token>")
    try:
        await stop.wait()
    finally:
        _say("meetbox shutting down")
        await server.close()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    logging.basicConfig(
        level=settings.server.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(_serve(settings))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    settings = _settings(args)
    keys = load_or_create_keys(settings.server.data_dir, settings.keys)
    grant = VideoGrant(
        room=args.room,
        room_join=True,
        room_admin=args.admin,
        can_publish=not args.no_publish,
        can_subscribe=not args.no_subscribe,
        hidden=args.hidden,
    )
    _say(
        mint_token(
            keys.api_key, keys.api_secret, args.identity, grant, name=args.name or "", ttl=args.ttl
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meetbox", description="A self-contained video-meeting server."
    )
    parser.add_argument("--version", action="version", version=f"meetbox {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", type=Path, help="TOML settings file")
        p.add_argument("--data-dir", type=Path, help="data directory (default ./.meetbox)")

    serve = sub.add_parser("serve", help="start the server")
    common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="print a room access token")
    common(token)
    token.add_argument("--room", required=True)
    token.add_argument("--identity", required=True)
    token.add_argument("--name")
    token.add_argument("--admin", action="store_true", help="room admin (host)")
    token.add_argument("--no-publish", action="store_true")
    token.add_argument("--no-subscribe", action="store_true")
    token.add_argument("--hidden", action="store_true")
    token.add_argument("--ttl", type=parse_ttl, default=6 * 3600, help="lifetime: 90s, 30m, 6h, 2d")
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ValueError as exc:
        parser.exit(2, f"meetbox: {exc}\n")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
