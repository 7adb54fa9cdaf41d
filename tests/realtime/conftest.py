from __future__ import annotations

from tests.support.redis_server import redis_cluster, redis_cluster_nodes  # noqa: F401 - a fixture of the cluster fleet
