"""What every part of ``make bench`` shares: the cores, the pinned servers, logging."""

from __future__ import annotations

import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from meetbox.loadtest.runner import LoadSpec

HERE = Path(__file__).resolve().parent
SERVER_CPU, LOAD_CPU = 0, 1
STEPS = [
    int(n) for n in os.environ.get("BENCH_STEPS", "25,50,100,150,200,300,400,500,600").split(",")
]
FPS = 30  # the load's video frame rate
BASELINE_STEPS = [1, 2, 4]
WINDOW = float(os.environ.get("BENCH_WINDOW", "12"))
MAX_LOSS = 0.005


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")


@contextmanager
def pinned_server(args: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[int]:
    process = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
    )
    try:
        wait_listening(port, process)
        yield process.pid
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def meetbox_server(
    extra_env: dict[str, str] | None = None, data_dir: Path | None = None
) -> Iterator[tuple[str, str, str, int]]:
    """A pinned ``meetbox serve``; its data in ``data_dir`` when given, else a temporary one."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        data = str(data_dir or scratch)
        key, secret = "bench", secrets.token_hex(24)
        env = {
            "MEETBOX_KEYS_API_KEY": key,
            "MEETBOX_KEYS_API_SECRET": secret,
            "MEETBOX_SERVER_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        exe = str(Path(sys.executable).with_name("meetbox"))
        with pinned_server(
            [exe, "serve", "--data-dir", data, "--port", str(port)], port, env
        ) as pid:
            yield f"http://127.0.0.1:{port}", key, secret, pid


def wait_server_idle(pid: int, below: float = 0.05, timeout: float = 60.0) -> float:
    """Until the server's CPU stays under ``below`` of a core for a second (the last
    load's subscribers are gone: a step must not pay for the previous one's teardown);
    the seconds waited. Gives up after ``timeout``, saying so."""
    from meetbox.loadtest import procstat

    started = time.monotonic()
    before = procstat.cpu_seconds(pid)
    while time.monotonic() - started < timeout:
        time.sleep(1.0)  # the measuring window of the server's CPU
        now = procstat.cpu_seconds(pid)
        if before is None or now is None or now - before < below:
            return time.monotonic() - started
        before = now
    log(f"the server did not go idle within {timeout:.0f}s; measuring anyway")
    return time.monotonic() - started


def event_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def fanout_loop() -> str:
    """The forwarding loop the server runs: compiled where the install found a compiler."""
    from meetbox.sfu import fanout

    return fanout.current().name


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    )


def video_load(
    url: str, key: str, secret: str, pid: int, room: str, subscribers: int, backend: str = "meetbox"
) -> LoadSpec:
    """The benchmark's load: one 1 Mbps VP8 publisher, ``subscribers`` viewers counting it.

    The viewers join hidden, as a livestream's audience (LiveKit's livestream mode does not
    announce them either): otherwise each of them is told of every other one joining, and
    on the one load core those 600 x 600 messages, not the media, end up dropping them."""
    return LoadSpec(
        url=url, api_key=key, api_secret=secret, room=room, subscribers=subscribers,
        duration=WINDOW, join_timeout=120, fps=FPS, audio=False, hidden=True, server_pid=pid,
        worker_cpus=(LOAD_CPU,), backend=backend,
    )  # fmt: skip


def cpu_axes(ax: Any, xlabel: str, title: str, legend: str = "upper right") -> None:
    """The look of the plots of server CPU against load: percent of one core, 0-110."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("server CPU, % of one core")
    ax.set_ylim(0, 110)
    ax.axhline(100, color="grey", lw=0.8, ls="--")
    ax.grid(alpha=0.3)
    ax.legend(loc=legend, fontsize=8)
    ax.set_title(title)
