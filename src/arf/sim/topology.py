"""A generated platform of many services for the evaluation: deterministic under a seed.

Names and tiers are fixed (so reports for different seeds line up); which service calls which
is drawn from the seed. Tiers call only lower tiers, so the graph is acyclic: edge services
call APIs, APIs call domain services, domain services call later domain services and
datastores. Every datastore has at least one caller.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from arf.core.records import Criticality, ServiceInfo, ServiceSLO
from arf.sim.model import READINESS_PATH, IacResource, Release, ServiceState, SimState

EDGE = ("web-frontend", "mobile-bff", "partner-api", "admin-console")
API = (
    "api-gateway",
    "graphql",
    "search-api",
    "account-api",
    "order-api",
    "media-api",
    "billing-api",
    "support-api",
)
DOMAIN = (
    "checkout",
    "payments",
    "inventory",
    "orders",
    "catalog",
    "pricing",
    "promotions",
    "cart",
    "shipping",
    "fulfilment",
    "returns",
    "invoicing",
    "ledger-sync",
    "fraud",
    "risk-score",
    "identity",
    "sessions",
    "profiles",
    "preferences",
    "notifications",
    "email",
    "sms",
    "recommendations",
    "reviews",
    "ratings",
    "search-indexer",
    "media-transcode",
    "thumbnails",
    "tax",
    "currency",
    "loyalty",
    "audit-trail",
)
DATASTORES = (
    "orders-db",
    "accounts-db",
    "catalog-db",
    "payments-db",
    "sessions-cache",
    "catalog-cache",
    "search-index",
    "events-queue",
    "media-store",
    "analytics-db",
)
OWNERS = ("team-web", "team-payments", "team-fulfilment", "team-identity", "team-data")
BUCKETS = ("audit-logs", "media-uploads", "backups", "reports-export")
SECURITY_GROUPS = ("bastion", "batch-workers")

SERVICE_CONFIG = {
    "db_pool_size": "20",
    "log_level": "info",
    "target_port": "8080",
    "container_port": "8080",
    "node_selector": "pool-general",
    "readiness_path": READINESS_PATH,
    "tls_secret": "valid",
    "ingress_policy": "allow-callers",
    "load_factor": "1.0",
    "flag_recs_v2": "off",
}


@dataclass(frozen=True)
class GeneratedPlatform:
    state: SimState
    catalog: tuple[ServiceInfo, ...]  # what an operator's service catalog would list

    def tier_of(self, name: str) -> str:
        if name in EDGE:
            return "edge"
        if name in API:
            return "api"
        if name in DATASTORES:
            return "datastore"
        return "domain" if name in DOMAIN else "resource"


def _pick(rng: random.Random, pool: Sequence[str], low: int, high: int) -> list[str]:
    count = min(len(pool), rng.randint(low, high))
    return sorted(rng.sample(list(pool), count)) if count else []


def dependency_graph(seed: int) -> dict[str, list[str]]:
    """Who calls whom, drawn from the seed; acyclic by construction."""
    rng = random.Random(f"topology:{seed}")
    graph: dict[str, list[str]] = {}
    for name in EDGE:
        graph[name] = _pick(rng, API, 2, 3)
    for name in API:
        graph[name] = _pick(rng, DOMAIN, 2, 3)
    for index, name in enumerate(DOMAIN):
        later = DOMAIN[index + 1 :]
        deps = _pick(rng, later, 0, 2) if later else []
        if rng.random() < 0.6:
            deps.append(rng.choice(DATASTORES))
        graph[name] = sorted(set(deps))
    for store in DATASTORES:
        graph[store] = []
        if not any(store in deps for deps in graph.values()):
            caller = rng.choice(DOMAIN)
            graph[caller] = sorted({*graph[caller], store})
    return graph


def _criticality(name: str, rng: random.Random) -> Criticality:
    if name in DATASTORES or name in ("payments", "checkout", "identity", "api-gateway"):
        return Criticality.CRITICAL
    if name in EDGE or name in API:
        return Criticality.HIGH
    return rng.choice((Criticality.MEDIUM, Criticality.HIGH, Criticality.LOW))


def generate_platform(seed: int, now: float) -> GeneratedPlatform:
    """Every service healthy at `now`; 54 services and 6 IaC resources."""
    graph = dependency_graph(seed)
    rng = random.Random(f"attributes:{seed}")
    services: dict[str, ServiceState] = {}
    catalog: list[ServiceInfo] = []
    for name, deps in graph.items():
        datastore = name in DATASTORES
        criticality = _criticality(name, rng)
        max_error = 0.01 if criticality is Criticality.CRITICAL else 0.02
        max_latency = 200.0 if datastore else 1000.0 if name in EDGE else 800.0
        version = "15.4" if datastore else f"1.{rng.randint(2, 9)}.{rng.randint(0, 9)}"
        config = {} if datastore else dict(SERVICE_CONFIG)
        services[name] = ServiceState(
            name=name,
            kind="datastore" if datastore else "service",
            depends_on=list(deps),
            version=version,
            release_history=[version],
            releases={version: Release(version=version)},
            config=config,
            config_history={key: [value] for key, value in config.items()},
            memory_limit_mb=4096 if datastore else 512,
            memory_demand_mb=2500 if datastore else rng.randint(220, 360),
            replicas=2 if datastore else rng.choice((3, 3, 4, 6)),
            has_replica=datastore,
            base_latency_ms=8.0 if datastore else float(rng.randint(60, 160)),
            slo_max_error_rate=max_error,
            slo_max_latency_p99_ms=max_latency,
        )
        catalog.append(
            ServiceInfo(
                name=name,
                owner=OWNERS[sum(map(ord, name)) % len(OWNERS)],
                environment="production",
                criticality=criticality,
                kind="datastore" if datastore else "service",
                depends_on=tuple(deps),
                slo=ServiceSLO(max_error_rate=max_error, max_latency_p99_ms=max_latency),
            )
        )
    iac: dict[str, IacResource] = {}
    for bucket in BUCKETS:
        address = f"aws_s3_bucket.{bucket.replace('-', '_')}"
        iac[address] = IacResource(
            name=address,
            file="/iac/tf/storage.tf",
            attributes={"acl": "private", "server_side_encryption": "aws:kms", "versioning": True},
        )
    for group in SECURITY_GROUPS:
        address = f"aws_security_group.{group.replace('-', '_')}"
        iac[address] = IacResource(
            name=address, file="/iac/tf/network.tf", attributes={"ssh_ingress_cidr": "10.0.0.0/8"}
        )
    for address in iac:
        catalog.append(
            ServiceInfo(
                name=address,
                owner="team-platform",
                environment="production",
                criticality=Criticality.HIGH,
                kind="resource",
            )
        )
    state = SimState(seed=seed, now=now, services=services, iac=iac, last_eval=now)
    return GeneratedPlatform(state=state, catalog=tuple(catalog))
