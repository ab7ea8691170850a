"""The ``meetbox`` command line: ``serve``, ``token``, ``user create``, ``client create``
and ``loadtest``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from meetbox import __version__, serving
from meetbox.auth.keys import load_or_create_keys
from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.config import Settings, load_settings
from meetbox.errors import MeetboxError
from meetbox.runtime import loop_factory, tune_garbage_collector

if TYPE_CHECKING:
    from meetbox.store import Store

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
    cluster: dict[str, object] = {}
    if getattr(args, "workers", None) is not None:
        cluster["workers"] = args.workers
    if getattr(args, "redis", None):
        cluster["redis_url"] = args.redis
    if cluster:
        settings = settings.replace(cluster=cluster)
    return settings.replace(server=overrides) if overrides else settings


def parse_workers(text: str) -> int:
    """``--workers``: a count, or ``auto`` (one per core)."""
    if text == "auto":
        return 0
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(f"--workers takes 1..256 or 'auto', not {text!r}")
    return int(text)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _logging(settings: Settings, worker: str) -> None:
    from meetbox.logs import configure

    configure(settings.server.log_level, settings.cluster.log_format, worker)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    tune_garbage_collector()
    runner = loop_factory(settings.server.event_loop)
    cluster = settings.cluster
    with asyncio.Runner(loop_factory=runner) as run:
        if cluster.workers == 1 and not cluster.redis_url:
            _logging(settings, "")
            run.run(serving.serve(settings, _say))
        else:
            _logging(settings, "gateway")
            worker_args = []
            if args.config is not None:
                worker_args += ["--config", str(args.config)]
            if args.data_dir is not None:
                worker_args += ["--data-dir", str(args.data_dir)]
            if args.host is not None:
                worker_args += ["--host", args.host]
            if args.redis:
                worker_args += ["--redis", args.redis]
            run.run(serving.serve_workers(settings, worker_args, _say))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """One worker process of ``serve --workers`` (started by it, not by hand)."""
    try:
        overrides = json.loads(args.overrides)
    except ValueError:
        raise ValueError("--overrides must be JSON") from None
    settings = _settings(args).replace(**overrides)
    _logging(settings, args.id)
    tune_garbage_collector()
    with asyncio.Runner(loop_factory=loop_factory(settings.server.event_loop)) as run:
        run.run(serving.run_worker(settings, args.id, args.node, args.gateway))
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


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    from meetbox.store import open_store

    store = open_store(settings.store, settings.server.data_dir)
    try:
        await store.open()
        return await work(store)
    finally:
        await store.close()


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the passwords differ")
    return first


def cmd_user_create(args: argparse.Namespace) -> int:
    from meetbox.web.api_auth import REGISTER, create_user
    from meetbox.web.schema import validate

    settings = _settings(args)
    fields = {
        "email": args.email,
        "fName": args.first_name,
        "lName": args.last_name,
        "phoneNumber": args.phone,
        "country": args.country,
        "password": _password(args),
    }

    fields = validate(REGISTER, fields, "user")

    async def work(store: Store) -> int:
        doc = await create_user(store, fields, role="admin" if args.admin else "user")
        _say(f"created {doc['role']} {doc['email']} with id {doc['_id']}")
        return 0

    return asyncio.run(_with_store(settings, work))


def cmd_client_create(args: argparse.Namespace) -> int:
    from meetbox.web.api_streaming import create_client

    settings = _settings(args)

    async def work(store: Store) -> int:
        client_id, secret = await create_client(store, args.name)
        _say("API client created; the secret is shown once and stored only as a hash:")
        _say(f"  ClientID:     {client_id}")
        _say(f"  ClientSecret: {secret}")
        return 0

    return asyncio.run(_with_store(settings, work))


def _resolution(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{2,4})x(\d{2,4})", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"resolution {text!r} must look like 640x480")
    return int(match.group(1)), int(match.group(2))


def cmd_recording_process(args: argparse.Namespace) -> int:
    from meetbox.progress import ProgressBar
    from meetbox.recorder.compose import ComposeSpec, compose
    from meetbox.recorder.roomrecording import MANIFEST
    from meetbox.services.quota import file_fields

    settings = _settings(args)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", args.recording_id):
        raise ValueError("a recording id is letters, digits, '_' and '-'")
    room = args.room or "*"
    base = settings.server.data_dir / "recordings"
    found = sorted(base.glob(f"*/{room}/{args.recording_id}/{MANIFEST}"))
    if not found:
        raise ValueError(f"no recorded files for recording {args.recording_id} under {base}")
    if len(found) > 1:
        raise ValueError("that recording id is in several rooms: name one with --room")
    folder = found[0].parent
    width, height = args.size
    spec = ComposeSpec(width=width, height=height, fps=args.fps, layout=args.layout)
    video = folder / f"composite-{spec.layout}-{width}x{height}.mp4"
    audio = folder / "audio-mix.ogg"
    bar = ProgressBar(1.0, f"processing {args.recording_id}")
    result = compose(folder, video, audio, spec, lambda f: bar.update(f, f"{f:.0%}"))
    bar.close()

    async def account(store: Store) -> int:
        doc = await store.recordings.find_one(
            {"recordingId": args.recording_id, "roomId": folder.parent.name}
        )
        if doc is None:
            return 0
        added = {p.name: p.stat().st_size for p in (video, audio)}
        await store.recordings.update({"_id": doc["_id"]}, set=file_fields(doc, added))
        return 0

    asyncio.run(_with_store(settings, account))
    _say(f"{result.participants} participants, {result.duration:.1f} s")
    _say(f"  video: {video}")
    _say(f"  audio: {audio}")
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    from meetbox.loadtest.report import print_summary, progress_printer
    from meetbox.loadtest.runner import LoadSpec, run_load

    key, secret = args.api_key, args.api_secret
    if not (key and secret):
        keys = load_or_create_keys(_settings(args).server.data_dir, _settings(args).keys)
        key, secret = keys.api_key, keys.api_secret
    width, height = args.resolution
    spec = LoadSpec(
        url=args.url.rstrip("/"),
        api_key=key,
        api_secret=secret,
        room=args.room,
        publishers=args.publishers,
        subscribers=args.subscribers,
        workers=args.workers,
        duration=args.duration,
        join_timeout=args.join_timeout,
        width=width,
        height=height,
        bitrate=args.bitrate,
        fps=args.fps,
        video=not args.no_video,
        audio=not args.no_audio,
        decrypt=args.decrypt,
        hidden=args.hidden,
        server_pid=args.server_pid,
        meeting=args.meeting,
        talkers=args.talkers,
        simulcast=args.simulcast,
        view=args.view,
    )
    printer = progress_printer(spec)
    result = run_load(spec, printer.second)
    printer.close()
    print_summary(result, sys.stdout)
    if args.json:
        from meetbox.loadtest.report import write_json

        write_json(result, args.json)
    return 0 if result.joined and not result.errors else 1


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
    serve.add_argument(
        "--workers",
        type=parse_workers,
        help="worker processes on this box: a count, or auto (one per core); default 1",
    )
    serve.add_argument("--redis", help="redis://... : join the other nodes on this Redis")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="one worker process (started by serve --workers)")
    common(worker)
    worker.add_argument("--host")
    worker.add_argument("--redis")
    worker.add_argument("--id", required=True)
    worker.add_argument("--node", required=True)
    worker.add_argument("--gateway", required=True)
    worker.add_argument("--overrides", default="{}")
    worker.set_defaults(func=cmd_worker)

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

    user = sub.add_parser("user", help="manage user accounts").add_subparsers(
        dest="action", required=True
    )
    create = user.add_parser("create", help="create a user (--admin for an administrator)")
    common(create)
    create.add_argument("--email", required=True)
    create.add_argument("--first-name", default="Admin")
    create.add_argument("--last-name", default="User")
    create.add_argument("--phone", default="0000")
    create.add_argument("--country", default="unknown")
    create.add_argument("--admin", action="store_true", help="give the admin role")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(func=cmd_user_create)

    client = sub.add_parser("client", help="manage API clients").add_subparsers(
        dest="action", required=True
    )
    make = client.add_parser("create", help="create an API client for /session-storage")
    common(make)
    make.add_argument("--name", required=True)
    make.set_defaults(func=cmd_client_create)

    recording = sub.add_parser("recording", help="recordings").add_subparsers(
        dest="action", required=True
    )
    process = recording.add_parser(
        "process", help="compose a recording into one MP4 and an Ogg/Opus audio mix"
    )
    common(process)
    process.add_argument("recording_id", metavar="ID")
    process.add_argument("--room", help="the room, when the id is in several")
    process.add_argument("--size", type=_resolution, default=(1280, 720), help="WxH")
    process.add_argument("--fps", type=int, default=15)
    process.add_argument("--layout", choices=("grid", "speaker"), default="grid")
    process.set_defaults(func=cmd_recording_process)

    load = sub.add_parser(
        "loadtest", help="publishers looping pre-encoded VP8 + Opus, subscribers counting it"
    )
    common(load)
    load.add_argument("--url", default="http://127.0.0.1:7880", help="the server to load")
    load.add_argument("--api-key", default=os.environ.get("MEETBOX_API_KEY"))
    load.add_argument(
        "--api-secret",
        default=os.environ.get("MEETBOX_API_SECRET"),
        help="with --api-key; default: the keys in the data directory",
    )
    load.add_argument("--room", default="loadtest")
    load.add_argument("--publishers", type=int, default=1)
    load.add_argument("--subscribers", type=int, default=10)
    load.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes for the subscribers (the publishers get one of their own)",
    )
    load.add_argument("--duration", type=float, default=30, help="steady-state seconds")
    load.add_argument("--join-timeout", type=float, default=90)
    load.add_argument("--resolution", type=_resolution, default=(640, 480))
    load.add_argument("--bitrate", type=int, default=1_000_000, help="video bits per second")
    load.add_argument("--fps", type=int, default=30)
    load.add_argument("--no-video", action="store_true")
    load.add_argument("--no-audio", action="store_true")
    load.add_argument(
        "--decrypt",
        action="store_true",
        help="subscribers SRTP-decrypt every packet as a real client does (by default they "
        "count packets by their headers, which SRTP leaves in clear: about half the cost)",
    )
    load.add_argument(
        "--hidden",
        action="store_true",
        help="subscribers join hidden (the token's hidden grant): nobody is told they joined, "
        "so each does not receive every other one's join; a room of viewers on one machine",
    )
    load.add_argument(
        "--meeting",
        type=int,
        default=0,
        metavar="N",
        help="a meeting of N participants instead: each publishes video and receives "
        "everyone else's (--publishers and --subscribers are then unused)",
    )
    load.add_argument(
        "--talkers", type=int, default=2, help="in a meeting: how many publish audio too"
    )
    load.add_argument(
        "--simulcast",
        action="store_true",
        help="in a meeting: each camera as three VP8 layers (1/4, 1/2 and the whole "
        "--resolution), offered and sent as Chrome does",
    )
    load.add_argument(
        "--view",
        choices=("gallery", "speaker"),
        default="gallery",
        help="in a meeting: the tile sizes each participant tells the server (gallery: all "
        "320x180; speaker: one 1280x720, the others 160x90)",
    )
    load.add_argument("--server-pid", type=int, help="default: whoever listens on the URL's port")
    load.add_argument("--json", type=Path, help="also write the results here")
    load.set_defaults(func=cmd_loadtest)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ValueError as exc:
        parser.exit(2, f"meetbox: {exc}\n")
    except MeetboxError as exc:
        parser.exit(2, f"meetbox: {exc.message}\n")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
