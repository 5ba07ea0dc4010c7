"""The scenario catalog: one YAML file per scenario, validated, resolved against a generated
platform under a seed, and injected.

A scenario names fault kinds and target selectors (a tier, "has callers", "unrelated to
another target"), never concrete service names: the seed decides which service is hit, so
runs over several seeds cover different places of the dependency graph.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from arf.core.errors import ConfigError
from arf.core.yaml_files import validation_problem
from arf.sim import faults as f
from arf.sim.model import FaultRecord
from arf.sim.platform import SimPlatform, iso_time
from arf.sim.topology import GeneratedPlatform

ScenarioClass = Literal[
    "configuration_drift",
    "failed_deployment",
    "security_misconfiguration",
    "service_degradation",
    "compound",
    "novel",  # no knowledge entry names it; its remedy is in the action catalog
    "remedy_not_in_catalog",  # nothing catalogued fixes it: it must go to a person
    "no_fault",
]
CLASSES: tuple[str, ...] = get_args(ScenarioClass)
# the human model's novel_factor: failures a person has rarely seen. "novel" means no
# knowledge entry of ARF's names it, not that a person has never met it (an expired
# certificate, a full disk), so it is not among them.
UNFAMILIAR = frozenset({"remedy_not_in_catalog"})
Tier = Literal["edge", "api", "domain", "datastore", "bucket", "security_group"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    tier: Tier
    called: bool = False  # the service has callers (its failure spreads)
    called_by: Tier | None = None  # has a caller in that tier
    calls: Tier | None = None  # depends on a service in that tier
    unrelated_to: str | None = None  # "fault.0": no dependency path with that target
    caller_of: str | None = None  # "fault.0": calls that target directly


class FaultSpec(_Strict):
    kind: str
    target: Selector
    key: str = ""
    value: JsonValue = None
    error_rate: float = 0.25
    demand_mb: int = 800
    limit_mb: int = 128
    seconds: float = 100.0
    demand_m: int = 1800
    factor: float = 2.0


class NoiseSpec(_Strict):
    kind: Literal["unrelated_deploy", "unrelated_config", "alert_storm"]
    target: Selector | None = None
    lead_s: float = 240.0  # how long before the fault the noise happens
    count: int = 200  # alerts in a storm
    near: str = "fault.0"  # a storm comes from the neighbours of this target


class Signals(_Strict):
    """What the platform's tools emit for the scenario (alert names, change kinds, scanner
    checks), besides noise; every alert repeats every 5 minutes while it fires."""

    alerts: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()


class ActionRef(_Strict):
    action: str
    target: str  # "fault.N" or "noise.N": the resolved target of that entry
    why: str = ""


class Expected(_Strict):
    remediate: bool  # a correct control plane changes something
    escalate: bool = False  # the correct response is to hand it to a person
    correct: tuple[ActionRef, ...] = ()


class ScenarioSpec(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,60}$")]
    scenario_class: ScenarioClass = Field(alias="class")
    description: str
    source: str
    signals: Signals
    faults: tuple[FaultSpec, ...] = ()
    noise: tuple[NoiseSpec, ...] = ()
    expected: Expected
    tempting: tuple[ActionRef, ...] = ()
    success: str = "every injected fault is undone and every service meets its SLO again"


@dataclass(frozen=True)
class Injected:
    """A scenario placed on a platform: ground truth for scoring, never shown to ARF."""

    spec: ScenarioSpec
    faults: tuple[FaultRecord, ...]
    targets: Mapping[str, str]  # "fault.0" -> service name
    correct: frozenset[tuple[str, str]]  # (action, target)
    tempting: frozenset[tuple[str, str]]
    started_at: float


def load_scenario(text: str, origin: str) -> ScenarioSpec:
    try:
        data = yaml.safe_load(text)
        spec = ScenarioSpec.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {validation_problem(exc)}") from exc
    for fault in spec.faults:
        if fault.kind not in _INJECTORS:
            raise ConfigError(f"{origin}: unknown fault kind {fault.kind!r}")
    refs = [*(r.target for r in spec.expected.correct), *(r.target for r in spec.tempting)]
    known = {f"fault.{i}" for i in range(len(spec.faults))} | {
        f"noise.{i}" for i, n in enumerate(spec.noise) if n.target is not None
    }
    for ref in refs:
        if ref not in known:
            raise ConfigError(f"{origin}: {ref!r} names no fault or noise entry with a target")
    if spec.expected.remediate and not spec.expected.correct:
        raise ConfigError(f"{origin}: a scenario that expects a remediation must name it")
    return spec


def packaged_scenarios() -> list[ScenarioSpec]:
    folder = resources.files("arf.bench").joinpath("scenarios")
    specs = [
        load_scenario(item.read_text("utf-8"), f"arf/bench/scenarios/{item.name}")
        for item in sorted(folder.iterdir(), key=lambda i: i.name)
        if item.name.endswith(".yaml")
    ]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError("two scenario files share a name")
    return specs


def scenarios_from(folder: Path) -> list[ScenarioSpec]:
    return [load_scenario(p.read_text("utf-8"), str(p)) for p in sorted(folder.glob("*.yaml"))]


# ------------------------------------------------------------------ resolution and injection
def _candidates(
    generated: GeneratedPlatform, selector: Selector, targets: Mapping[str, str]
) -> list[str]:
    state = generated.state
    if selector.tier in ("bucket", "security_group"):
        prefix = "aws_s3_bucket." if selector.tier == "bucket" else "aws_security_group."
        return sorted(name for name in state.iac if name.startswith(prefix))
    callers: dict[str, set[str]] = {name: set() for name in state.services}
    for name, service in state.services.items():
        for dep in service.depends_on:
            callers[dep].add(name)
    pool = [n for n in sorted(state.services) if generated.tier_of(n) == selector.tier]
    if selector.called:
        pool = [n for n in pool if callers[n]]
    if selector.called_by is not None:
        tier = selector.called_by
        pool = [n for n in pool if any(generated.tier_of(c) == tier for c in callers[n])]
    if selector.calls is not None:
        tier = selector.calls
        pool = [
            n
            for n in pool
            if any(generated.tier_of(d) == tier for d in state.services[n].depends_on)
        ]
    if selector.caller_of is not None:
        callee = targets.get(selector.caller_of, "")
        pool = [n for n in pool if callee in state.services[n].depends_on]
    if selector.unrelated_to is not None:
        other = targets.get(selector.unrelated_to)
        if other is None:
            raise ConfigError(f"unrelated_to {selector.unrelated_to!r} is not resolved yet")
        near = _related(generated, other)
        pool = [n for n in pool if n not in near and n != other]
    return pool


def _related(generated: GeneratedPlatform, name: str) -> set[str]:
    """Everything on a dependency path with `name` (what it calls and what calls it)."""
    services = generated.state.services
    down, up = {name}, {name}
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for dep in services[current].depends_on if current in services else ():
            if dep not in down:
                down.add(dep)
                frontier.append(dep)
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for caller, service in services.items():
            if current in service.depends_on and caller not in up:
                up.add(caller)
                frontier.append(caller)
    return down | up


def resolve(spec: ScenarioSpec, generated: GeneratedPlatform, seed: int) -> dict[str, str]:
    """Concrete targets for every fault and noise entry, drawn from the seed."""
    rng = random.Random(f"{spec.name}:{seed}")
    targets: dict[str, str] = {}
    entries: list[tuple[str, Selector | None]] = [
        *((f"fault.{i}", fault.target) for i, fault in enumerate(spec.faults)),
        *((f"noise.{i}", noise.target) for i, noise in enumerate(spec.noise)),
    ]
    for ref, selector in entries:
        if selector is None:
            continue
        pool = [n for n in _candidates(generated, selector, targets) if n not in targets.values()]
        if not pool:
            raise ConfigError(f"scenario {spec.name}: no target fits {ref} ({selector})")
        targets[ref] = rng.choice(pool)
    return targets


Injector = Callable[[SimPlatform, str, FaultSpec], FaultRecord]


def _config(kind: str) -> Injector:
    return lambda p, target, spec: f.config_drift(p, target, spec.key, str(spec.value), kind)


def _bad_version(platform: SimPlatform, target: str) -> str:
    current = platform.state.services[target].version
    major, _, rest = current.partition(".")
    return f"{int(major) + 1 if major.isdigit() else 2}.0.0-rc{len(rest) % 7}"


_INJECTORS: Mapping[str, Injector] = {
    "bad_deploy": lambda p, t, s: f.bad_deploy(p, t, _bad_version(p, t), s.error_rate),
    "crash_loop": lambda p, t, s: f.crash_loop(p, t, _bad_version(p, t)),
    "wrong_image": lambda p, t, s: f.wrong_image(p, t, _bad_version(p, t)),
    "scaled_to_zero": lambda p, t, s: f.scaled_to_zero(p, t),
    "memory_exhaustion": lambda p, t, s: f.memory_exhaustion(p, t, s.demand_mb),
    "memory_limit_too_low": lambda p, t, s: f.memory_limit_lowered(p, t, s.limit_mb),
    "dependency_outage": lambda p, t, s: f.dependency_outage(p, t),
    "datastore_disk_failure": lambda p, t, s: f.datastore_disk_failure(p, t),
    "credentials_revoked": lambda p, t, s: f.credentials_revoked(p, t),
    "network_partition": lambda p, t, s: f.network_partition(p, t),
    "certificate_expired": lambda p, t, s: f.certificate_expired(p, t),
    "iac_misconfiguration": lambda p, t, s: f.iac_misconfiguration(p, t, s.key, s.value),
    "transient": lambda p, t, s: f.transient_latency(p, t, s.seconds),
    "feature_flag_on": lambda p, t, s: f.feature_flag_on(p, t, s.key or "flag_new_checkout"),
    "cpu_hungry_release": lambda p, t, s: f.cpu_hungry_release(p, t, _bad_version(p, t)),
    "cpu_starved": lambda p, t, s: f.cpu_starved(p, t, s.demand_m),
    "hpa_ceiling_reached": lambda p, t, s: f.hpa_ceiling_reached(p, t, s.factor),
    "logs_fill_disk": lambda p, t, s: f.logs_fill_disk(p, t),
    "data_fills_disk": lambda p, t, s: f.data_fills_disk(p, t),
    "trust_bundle_stale": lambda p, t, s: f.trust_bundle_stale(p, t),
    "stale_db_password": lambda p, t, s: f.stale_db_password(p, t, str(s.value)),
    **{kind: _config(kind) for kind in sorted(f.CONFIG_FAULTS - {"stale_db_password"})},
}


def _storm(platform: SimPlatform, near: str, count: int) -> JsonValue:
    """A burst of low-severity pod alerts from the target's neighbours (noise, not cause)."""
    services = platform.state.services
    neighbours = sorted(
        {*(services[near].depends_on if near in services else ())}
        | {n for n, s in services.items() if near in s.depends_on}
    ) or [near]
    when = platform.now()
    stamp = iso_time(when)
    alerts: list[JsonValue] = []
    for index in range(count):
        service = neighbours[index % len(neighbours)]
        alerts.append(
            {
                "status": "firing",
                "labels": {
                    "alertname": "KubePodNotReady",
                    "service": service,
                    "severity": "warning",
                    "pod": f"{service}-{index:04d}",
                    "namespace": "prod",
                },
                "annotations": {"summary": f"pod {service}-{index:04d} not ready"},
                "startsAt": stamp,
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"storm{int(when):x}{index:05d}",
            }
        )
    platform.emit("alertmanager", {"version": "4", "status": "firing", "alerts": alerts})
    resolved: list[JsonValue] = [
        {**a, "status": "resolved", "endsAt": iso_time(when + 180)}
        for a in alerts
        if isinstance(a, dict)
    ]
    return {"version": "4", "status": "resolved", "alerts": resolved}


def inject_noise(platform: SimPlatform, spec: ScenarioSpec, targets: Mapping[str, str]) -> None:
    """Noise that precedes the fault (red-herring changes)."""
    for index, noise in enumerate(spec.noise):
        target = targets.get(f"noise.{index}")
        if target is None:
            continue
        if noise.kind == "unrelated_deploy":
            version = platform.state.services[target].version + "-hotfix"
            f.deploy(platform, target, version)
        elif noise.kind == "unrelated_config":
            f.healthy_config_change(platform, target, "log_level", "debug")


def inject(
    platform: SimPlatform, spec: ScenarioSpec, targets: Mapping[str, str]
) -> tuple[tuple[FaultRecord, ...], tuple[JsonValue, ...]]:
    """Inject the faults and any alert storm; returns the fault records and the resolved
    notifications that end the storm (delivered when the storm's pods recover)."""
    records = tuple(
        _INJECTORS[fault.kind](platform, targets[f"fault.{i}"], fault)
        for i, fault in enumerate(spec.faults)
    )
    endings = tuple(
        _storm(platform, targets.get(noise.near, noise.near), noise.count)
        for noise in spec.noise
        if noise.kind == "alert_storm"
    )
    return records, endings


def refs(items: Sequence[ActionRef], targets: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((r.action, targets[r.target]) for r in items)


def describe_targets(targets: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(targets.items())))
