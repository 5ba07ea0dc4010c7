"""The generated platform: large, acyclic, deterministic under a seed, and healthy at start."""

from __future__ import annotations

from arf.core.clock import ManualClock
from arf.sim.faults import slo_breaches
from arf.sim.platform import SimPlatform
from arf.sim.topology import DATASTORES, dependency_graph, generate_platform
from tests.conftest import START


def _acyclic(graph: dict[str, list[str]]) -> bool:
    state: dict[str, int] = {}

    def visit(name: str) -> bool:
        if state.get(name) == 1:
            return False
        if state.get(name) == 2:
            return True
        state[name] = 1
        ok = all(visit(dep) for dep in graph[name])
        state[name] = 2
        return ok

    return all(visit(name) for name in graph)


def test_at_least_fifty_services_with_an_acyclic_dependency_graph() -> None:
    for seed in range(1, 6):
        graph = dependency_graph(seed)
        assert len(graph) >= 50
        assert _acyclic(graph)
        for store in DATASTORES:
            assert any(store in deps for deps in graph.values()), store


def test_the_same_seed_gives_the_same_platform_and_others_differ() -> None:
    assert dependency_graph(4) == dependency_graph(4)
    assert generate_platform(4, 0.0) == generate_platform(4, 0.0)
    assert dependency_graph(4) != dependency_graph(5)


def test_the_catalog_mirrors_the_platform_and_every_service_starts_healthy() -> None:
    clock = ManualClock(START)
    generated = generate_platform(2, clock.now().timestamp())
    names = {s.name for s in generated.catalog}
    assert set(generated.state.services) | set(generated.state.iac) == names
    for info in generated.catalog:
        if info.kind != "resource":
            assert tuple(generated.state.services[info.name].depends_on) == info.depends_on
    platform = SimPlatform(generated.state, clock)
    for _ in range(8):
        clock.advance(15)
        platform.tick()
    assert not slo_breaches(platform)
    assert not any(e.format == "alertmanager" for e in platform.drain())
    assert all(not platform.scan(name) for name in generated.state.iac)
