"""The scenario catalog: complete, sourced, validated, and resolved deterministically."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from arf.bench.scenarios import (
    CLASSES,
    _related,
    inject,
    inject_noise,
    load_scenario,
    packaged_scenarios,
    resolve,
)
from arf.core.clock import ManualClock
from arf.core.errors import ConfigError
from arf.sim.faults import fault_undone, repair, slo_breaches
from arf.sim.platform import SimPlatform
from arf.sim.topology import generate_platform
from tests.conftest import START


def test_the_catalog_has_at_least_24_sourced_scenarios_in_every_class() -> None:
    specs = packaged_scenarios()
    assert len(specs) >= 24
    classes = Counter(s.scenario_class for s in specs)
    assert set(classes) == set(CLASSES)
    assert classes["compound"] >= 2 and classes["no_fault"] >= 3
    assert classes["novel"] >= 3 and classes["remedy_not_in_catalog"] >= 3
    for spec in specs:
        assert len(spec.source) > 20, spec.name
        assert spec.description and spec.success
        if spec.scenario_class == "compound":
            assert len(spec.faults) >= 2 and len(spec.expected.correct) >= 2
        if spec.scenario_class in ("no_fault", "remedy_not_in_catalog"):
            assert not spec.expected.remediate and not spec.expected.correct
        if spec.scenario_class == "remedy_not_in_catalog":
            assert spec.expected.escalate and spec.tempting  # something tempting not to do
        if spec.scenario_class == "novel":  # no knowledge entry: the catalog has the remedy
            assert spec.expected.remediate and spec.tempting


def test_the_taxonomy_named_in_the_issue_is_covered() -> None:
    kinds = {f.kind for s in packaged_scenarios() for f in s.faults}
    for kind in (
        "target_port_changed",
        "scaled_to_zero",
        "node_selector_invalid",
        "credentials_revoked",
        "wrong_image",
        "readiness_probe_broken",
        "network_policy_blocking",
        "memory_limit_too_low",
        "corrupted_secret",
        "network_partition",
        "feature_flag_flood",
    ):
        assert kind in kinds
    noise = {n.kind for s in packaged_scenarios() for n in s.noise}
    assert {"unrelated_deploy", "alert_storm"} <= noise


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: x1y\nclass: novel\n", "description"),
        (
            "name: abc\nclass: novel\ndescription: d\nsource: s\nsignals: {}\n"
            "faults: [{kind: meteor, target: {tier: edge}}]\nexpected: {remediate: false}\n",
            "unknown fault kind 'meteor'",
        ),
        (
            "name: abc\nclass: novel\ndescription: d\nsource: s\nsignals: {}\n"
            "faults: [{kind: network_partition, target: {tier: edge}}]\n"
            "expected: {remediate: true, correct: [{action: restart_service, target: fault.3}]}\n",
            "'fault.3' names no fault",
        ),
        (
            "name: abc\nclass: novel\ndescription: d\nsource: s\nsignals: {}\n"
            "expected: {remediate: true}\n",
            "must name it",
        ),
        ("name: abc\nclass: [\n", "not valid YAML"),
        (
            "name: abc\nclass: weather\ndescription: d\nsource: s\nexpected: {remediate: false}\n",
            "class",
        ),
    ],
)
def test_a_bad_scenario_file_is_rejected_with_its_problem(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_scenario(text, "bad.yaml")
    assert "bad.yaml" in str(caught.value)
    assert problem in str(caught.value)


def test_targets_are_drawn_from_the_seed_and_honour_their_selectors() -> None:
    specs = {s.name: s for s in packaged_scenarios()}
    generated = generate_platform(1, 0.0)
    compound = specs["compound-release-and-drift"]
    first = resolve(compound, generated, 1)
    assert resolve(compound, generated, 1) == first  # deterministic
    assert first["fault.1"] not in _related(generated, first["fault.0"])  # independent faults
    differs = {resolve(compound, generate_platform(s, 0.0), s)["fault.0"] for s in range(1, 8)}
    assert len(differs) > 1  # seeds move the fault around the graph
    decoy = specs["symptom-with-unrelated-deploy"]
    targets = resolve(decoy, generated, 1)
    caller = generated.state.services[targets["noise.0"]]
    assert targets["fault.0"] in caller.depends_on


@pytest.mark.parametrize("name", [s.name for s in packaged_scenarios()])
def test_every_scenario_injects_its_fault_and_a_repair_undoes_it(name: str) -> None:
    """The success criterion is reachable: after the injection the fault is present (and, for
    a fault with traffic effects, an SLO is breached); after repair it is gone and every
    service is within its SLO."""
    spec = next(s for s in packaged_scenarios() if s.name == name)
    clock = ManualClock(START)
    generated = generate_platform(3, clock.now().timestamp())
    platform = SimPlatform(generated.state, clock)
    assert not slo_breaches(platform)
    targets = resolve(spec, generated, 3)
    inject_noise(platform, spec, targets)
    faults, _ = inject(platform, spec, targets)
    clock.advance(15)
    real = [f for f in faults if f.kind != "transient"]
    for fault in real:
        assert not fault_undone(platform, fault), fault.kind
    if any(f.kind not in ("iac_misconfiguration",) for f in real):
        assert slo_breaches(platform), name
    for fault in faults:
        repair(platform, fault)
    clock.advance(600)  # past any transient blip
    assert all(fault_undone(platform, f) for f in faults)
    assert not slo_breaches(platform)


def test_every_scenario_is_documented_with_its_source() -> None:
    from tests.conftest import REPO

    text = (REPO / "docs" / "evaluation.md").read_text("utf-8")
    for spec in packaged_scenarios():
        assert f"| {spec.name} |" in text, f"docs/evaluation.md lacks {spec.name}"
        assert spec.source in text


def test_reasoner_entries_map_to_settings_and_external_models_are_accepted() -> None:
    from arf.bench.run import BenchConfig, reasoning_for, run_bench
    from arf.core.errors import InputError

    assert reasoning_for("evidence", "local") == ("evidence", "")
    assert reasoning_for("local", "local") == ("llm", "local")
    assert reasoning_for("merged", "local:/m.gguf") == ("merged", "local:/m.gguf")
    # a configured external model runs merged with the evidence engine, as in production
    assert reasoning_for("openai:gpt-4o-mini", "local") == ("merged", "openai:gpt-4o-mini")
    with pytest.raises(InputError, match="unknown reasoner 'oracle'"):
        run_bench(BenchConfig(reasoners=("oracle",)), lambda _: None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_scenario_emits_exactly_the_signals_it_states(seed: int) -> None:
    """The `signals` a scenario file states are what the platform's tools emit in its first
    15 minutes (before any system acts): alert names, change kinds and scanner checks."""
    for spec in packaged_scenarios():
        clock = ManualClock(START)
        generated = generate_platform(seed, clock.now().timestamp())
        platform = SimPlatform(generated.state, clock)
        targets = resolve(spec, generated, seed)
        inject_noise(platform, spec, targets)
        inject(platform, spec, targets)
        alerts: set[str] = set()
        changes: set[str] = set()
        findings: set[str] = set()
        for _ in range(60):
            clock.advance(15)
            platform.tick()
            for emission in platform.drain():
                payload: Any = emission.payload
                if emission.format == "alertmanager":
                    alerts |= {
                        a["labels"]["alertname"]
                        for a in payload["alerts"]
                        if a["status"] == "firing"
                    }
                elif emission.format == "cloudevent":
                    changes.add(payload["type"].rsplit(".", 1)[-1])
                elif emission.format == "checkov":
                    findings |= {
                        c["check_id"] for r in payload for c in r["results"]["failed_checks"]
                    }
        stated = spec.signals
        assert sorted(alerts) == sorted(stated.alerts), spec.name
        assert sorted(changes) == sorted(stated.changes), spec.name
        assert sorted(findings) == sorted(stated.findings), spec.name
        if spec.scenario_class != "no_fault":
            assert stated.alerts or stated.findings, spec.name
