"""The structured logs (worker, room and participant on every line, JSON when asked) and
the cluster settings' checks."""

from __future__ import annotations

import contextvars
import io
import json
import logging

import pytest

from meetbox import logs
from meetbox.cluster.placement import MemoryMaps, Placement
from meetbox.cluster.status import WorkerStatus
from meetbox.config import Settings
from meetbox.errors import ResourceExhausted, Unavailable


def _line(formatter: logging.Formatter, room: str, who: str) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    log = logging.getLogger("meetbox.test.logs")
    log.addHandler(handler)
    log.propagate = False
    try:

        def inside() -> None:
            logs.set_context(room, who)
            log.warning("joined %s", "now")

        contextvars.copy_context().run(inside)
    finally:
        log.removeHandler(handler)
    return stream.getvalue().strip()


def test_json_lines_carry_worker_room_and_participant() -> None:
    line = json.loads(_line(logs.JsonFormatter("box/1"), "alpha", "ann"))
    assert line["message"] == "joined now" and line["level"] == "warning"
    assert (line["worker"], line["room"], line["participant"]) == ("box/1", "alpha", "ann")
    assert line["time"].endswith("Z")
    text = _line(logs.TextFormatter("box/0"), "beta", "bob")
    assert text.endswith("[worker=box/0 room=beta participant=bob]")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"workers": -1}, "cluster.workers"),
        ({"redis_url": "http://x"}, "redis://"),
        ({"max_rooms": -2}, "must not be negative"),
        ({"log_format": "xml"}, "'text' or 'json'"),
        ({"node": "a b"}, "cluster.node"),
    ],
)
def test_bad_cluster_settings_are_refused(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings().replace(cluster=section).validate()


async def test_placement_spreads_refuses_and_forgets() -> None:
    placement = Placement(MemoryMaps())
    a, b = WorkerStatus("n/0", "n", "http://a"), WorkerStatus("n/1", "n", "http://b")
    await placement.report([a, b])
    first, second = await placement.place("r1"), await placement.place("r2")
    assert {first.id, second.id} == {"n/0", "n/1"}  # a room each before any report
    assert (await placement.place("r1")).id == first.id  # a live room stays put
    # a worker that died: its rooms are placed again on the other
    await placement.report([s for s in (a, b) if s.id != first.id], gone=[first.id])
    assert (await placement.place("r1")).id == second.id
    # full and draining workers take no new room, and the refusal says which
    full = WorkerStatus("m/0", "m", "http://c", rooms=["x"], max_rooms=1)
    limited = Placement(MemoryMaps())
    await limited.report([full])
    with pytest.raises(ResourceExhausted):
        await limited.place("y")
    draining = WorkerStatus("d/0", "d", "http://d", draining=True)
    drained = Placement(MemoryMaps())
    await drained.report([draining])
    with pytest.raises(Unavailable, match="draining"):
        await drained.place("z")
