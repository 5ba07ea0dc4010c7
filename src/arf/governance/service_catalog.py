"""The service catalog file: services, owners, environments, criticality, SLOs, dependencies."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from arf.core.errors import ConfigError
from arf.core.records import ServiceInfo
from arf.core.yaml_files import validation_problem, yaml_section


class ServiceCatalog:
    """Implements `arf.core.ports.Topology`."""

    def __init__(self, services: Sequence[ServiceInfo]) -> None:
        self._services = {s.name: s for s in services}
        if len(self._services) != len(services):
            raise ConfigError("service catalog: a service is listed twice")
        for service in services:
            for dep in service.depends_on:
                if dep not in self._services:
                    raise ConfigError(
                        f"service catalog: {service.name} depends on unknown service {dep!r}"
                    )
        self._neighbours: dict[str, set[str]] = {name: set() for name in self._services}
        self._down: dict[str, set[str]] = {name: set() for name in self._services}
        self._up: dict[str, set[str]] = {name: set() for name in self._services}
        self._reached: dict[tuple[str, str, int], frozenset[str]] = {}
        for service in services:
            for dep in service.depends_on:
                self._neighbours[service.name].add(dep)
                self._neighbours[dep].add(service.name)
                self._down[service.name].add(dep)
                self._up[dep].add(service.name)

    @classmethod
    def from_yaml(cls, text: str, origin: str) -> ServiceCatalog:
        declared = yaml_section(text, origin, "services", list)
        try:
            services = [ServiceInfo.model_validate(item) for item in declared]
        except ValidationError as exc:
            raise ConfigError(f"{origin}: services.{validation_problem(exc)}") from exc
        return cls(services)

    @classmethod
    def from_file(cls, path: Path) -> ServiceCatalog:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read service catalog {path}: {exc.strerror}") from exc
        return cls.from_yaml(text, str(path))

    def service(self, name: str) -> ServiceInfo | None:
        return self._services.get(name)

    def services(self) -> tuple[ServiceInfo, ...]:
        return tuple(self._services.values())

    def dependencies(self, name: str) -> tuple[str, ...]:
        found = self._services.get(name)
        return found.depends_on if found else ()

    def neighbourhood(self, name: str, hops: int) -> frozenset[str]:
        """Services within `hops` edges of `name` along any edges (excluding itself)."""
        return self._cached("any", name, hops)

    def downstream(self, name: str, hops: int) -> frozenset[str]:
        """What `name` calls, directly or through others, within `hops` calls."""
        return self._cached("down", name, hops)

    def related(self, name: str, hops: int) -> frozenset[str]:
        """Services on a dependency path with `name` within `hops`: what it calls, directly or
        through others, and what calls it. Siblings that share a caller are not related."""
        return self._cached("related", name, hops)

    def _cached(self, way: str, name: str, hops: int) -> frozenset[str]:
        """The catalog is immutable, so answers are kept (correlation asks once per signal)."""
        key = (way, name, hops)
        found = self._reached.get(key)
        if found is None:
            if way == "related":
                found = _reach(self._down, name, hops) | _reach(self._up, name, hops)
            else:
                found = _reach(self._down if way == "down" else self._neighbours, name, hops)
            self._reached[key] = found
        return found


def _reach(edges: dict[str, set[str]], start: str, hops: int) -> frozenset[str]:
    if start not in edges:
        return frozenset()
    seen = {start}
    queue = deque([(start, 0)])
    while queue:
        current, depth = queue.popleft()
        if depth == hops:
            continue
        for nxt in edges[current]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, depth + 1))
    return frozenset(seen - {start})
