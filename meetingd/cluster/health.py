"""The cluster's part of the daemon's wiring and of ``/healthz``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .node import ClusterNode

if TYPE_CHECKING:
    from ..services import Services

logger = logging.getLogger(__name__)

cluster_key = web.AppKey("cluster", ClusterNode | None)  # type: ignore[arg-type]


def cluster_node(cfg: Any, svc: Services) -> ClusterNode | None:
    """This node's ClusterNode when ``[cluster] redis_url`` is set; None for one node."""
    if not cfg.cluster.redis_url:
        return None
    return ClusterNode(svc.db, cfg.database_url, cfg.node_id,
                       check_seconds=cfg.cluster.lease_check_seconds)


async def cluster_health(cluster: ClusterNode | None, redis_ok: bool | None) -> dict[str, Any]:
    """``/healthz`` fields of a cluster node: node id, Redis, its lease connection, leases."""
    if cluster is None:
        return {}
    report: dict[str, Any] = {"node_id": cluster.node_id,
                              "redis": "ok" if redis_ok else "error",
                              "leases": "ok" if cluster.leases.connected else "error",
                              "meetings_owned": sorted(cluster.leases.held)}
    return report
