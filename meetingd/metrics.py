"""Prometheus metrics at ``GET /metrics`` (text exposition format, prometheus-client).

Values are read from the services when scraped (no bookkeeping on the hot paths beyond
the counters the services keep anyway). Each app has its own registry, so several
servers in one process (tests) do not collide. Only addresses in ``[server]
metrics_from`` may scrape (default: loopback); the reverse proxy must not publish it.
"""

from __future__ import annotations

import gc
import ipaddress
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from meeting.errors import NotAuthorised
from signaling.fanout import RedisFanout

from .services import Services, services_key


class ServicesCollector(Collector):
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        svc = self.svc
        node = svc.config.node_id
        cluster = svc.cluster
        owned = len(cluster.leases.held) if cluster is not None else svc.procedure.live_count
        g = GaugeMetricFamily(
            "meetingd_meetings_owned", "Meetings whose live state this node holds", labels=["node"]
        )
        g.add_metric([node], owned)
        yield g
        g = GaugeMetricFamily(
            "meetingd_gc_frozen_objects",
            "Objects taken out of the cyclic collector's view at start-up (app.freeze_startup_heap)",
            labels=["node"],
        )
        g.add_metric([node], gc.get_freeze_count())
        yield g
        c = CounterMetricFamily(
            "meetingd_gc_collections",
            "Cyclic garbage collections, by generation",
            labels=["node", "generation"],
        )
        for generation, stats in enumerate(gc.get_stats()):
            c.add_metric([node, str(generation)], stats["collections"])
        yield c
        g = GaugeMetricFamily("meetingd_connections", "Authenticated Socket.IO connections", labels=["node"])
        g.add_metric([node], svc.namespace.connection_count)
        yield g
        c = CounterMetricFamily(
            "meetingd_ballots_acked", "Ballots acknowledged after commit", labels=["node"]
        )
        c.add_metric([node], svc.procedure.ballots.acked)
        yield c
        c = CounterMetricFamily(
            "meetingd_ballot_commits", "Transactions that carried ballots", labels=["node"]
        )
        c.add_metric([node], svc.procedure.ballots.commits)
        yield c
        manager = svc.namespace.sio.manager
        if isinstance(manager, RedisFanout):
            c = CounterMetricFamily(
                "meetingd_broadcasts", "Room broadcasts through Redis", labels=["node", "direction"]
            )
            c.add_metric([node, "published"], manager.published)
            c.add_metric([node, "delivered"], manager.fast_deliveries + manager.slow_deliveries)
            yield c
        if cluster is not None:
            c = CounterMetricFamily(
                "meetingd_forwarded_commands",
                "Commands forwarded between nodes",
                labels=["node", "direction"],
            )
            c.add_metric([node, "sent"], cluster.forwarder.forwarded)
            c.add_metric([node, "served"], cluster.forwarder.served)
            yield c
            c = CounterMetricFamily(
                "meetingd_meetings_adopted", "Meetings taken over from a node gone", labels=["node"]
            )
            c.add_metric([node], cluster.adopted)
            yield c


def _allowed(request: web.Request, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def add_metrics_route(app: web.Application) -> None:
    registries: dict[int, CollectorRegistry] = {}  # one per Services (built at start-up)

    async def metrics(request: web.Request) -> web.Response:
        svc = request.app[services_key]
        if not _allowed(request, svc.config.server.metrics_from):
            raise NotAuthorised("metrics are served to the addresses in [server] metrics_from only")
        registry = registries.get(id(svc))
        if registry is None:
            registry = registries[id(svc)] = CollectorRegistry()
            registry.register(ServicesCollector(svc))
        return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")

    app.router.add_get("/metrics", metrics)
