"""The cluster's part of the daemon's wiring and of ``/healthz``."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..config import Config
from .node import ClusterNode

logger = logging.getLogger(__name__)


def cluster_node(cfg: Config, db: async_sessionmaker[AsyncSession]) -> ClusterNode | None:
    """This node's ClusterNode when ``[cluster] redis_url`` is set; None for one node."""
    if not cfg.cluster.redis_url:
        return None
    return ClusterNode(
        db,
        cfg.database_url,
        cfg.node_id,
        redis_url=cfg.cluster.redis_url,
        check_seconds=cfg.cluster.lease_check_seconds,
        forward_timeout_s=cfg.cluster.forward_timeout_seconds,
    )


async def cluster_health(cluster: ClusterNode | None, redis_ok: bool | None) -> dict[str, Any]:
    """``/healthz`` fields of a cluster node: node id, Redis, its lease connection, leases."""
    if cluster is None:
        return {}
    report: dict[str, Any] = {
        "node_id": cluster.node_id,
        "redis": "ok" if redis_ok else "error",
        "leases": "ok" if cluster.leases.connected else "error",
        "meetings_owned": sorted(cluster.leases.held),
    }
    return report
