"""The box's ``/metrics``: each worker's own, read and labelled with its node and worker,
then the gateway's (its process and the workers it sees), in Prometheus' text format."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

import aiohttp
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.samples import Sample

from meetbox.cluster.status import SECRET_HEADER, WorkerStatus

SCRAPE_TIMEOUT = 2.0


class Labelled:
    """Metric families read from workers, each sample labelled with where it came from."""

    def __init__(self, families: list[Metric], workers: list[WorkerStatus], node: str) -> None:
        self.families = families
        self.workers = workers
        self.node = node

    def collect(self) -> Iterator[Metric]:
        yield from self.families
        live = GaugeMetricFamily(
            "meetbox_workers", "Worker processes of this box", labels=["node", "state"]
        )
        for state in ("taking_rooms", "draining_or_full"):
            count = sum((s.takes_rooms()) == (state == "taking_rooms") for s in self.workers)
            live.add_metric([self.node, state], count)
        yield live


async def _scrape(
    session: aiohttp.ClientSession, worker: WorkerStatus, secret: str
) -> list[Metric]:
    try:
        async with session.get(
            worker.url + "/metrics",
            headers={SECRET_HEADER: secret},
            timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT),
        ) as reply:
            text = await reply.text()
    except (aiohttp.ClientError, OSError, TimeoutError):
        return []
    return _labelled(text_string_to_metric_families(text), worker.node, worker.id)


def _labelled(families: Iterable[Metric], node: str, worker: str) -> list[Metric]:
    labels = {"node": node, "worker": worker}
    out = []
    for family in families:
        metric = Metric(family.name, family.documentation, family.type, family.unit)
        metric.samples = [
            Sample(s.name, {**s.labels, **labels}, s.value, s.timestamp, s.exemplar)
            for s in family.samples
        ]
        out.append(metric)
    return out


async def merged_metrics(
    session: aiohttp.ClientSession, workers: list[WorkerStatus], secret: str, node: str
) -> tuple[bytes, str]:
    scraped = await asyncio.gather(*(_scrape(session, w, secret) for w in workers))
    scraped.append(_labelled(ProcessCollector(registry=None).collect(), node, f"{node}/gateway"))
    by_name: dict[str, Metric] = {}
    for families in scraped:
        for family in families:
            merged = by_name.setdefault(family.name, family)
            if merged is not family:
                merged.samples.extend(family.samples)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Labelled(list(by_name.values()), workers, node))
    return generate_latest(registry), CONTENT_TYPE_LATEST
