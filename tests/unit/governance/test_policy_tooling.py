"""`arf policy test|lint|simulate|suggest` as functions: table tests, lint, replay, suggest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from arf.core.errors import PolicyLoadError
from arf.core.records import (
    ActionRun,
    Autonomy,
    BlastRadius,
    Criticality,
    DecisionEnvelope,
    Route,
    ServiceInfo,
)
from arf.execution.action_packs import ActionCatalog, default_actions
from arf.governance.lint import lint_text
from arf.governance.policy import load_policy_text
from arf.governance.policy_tests import find_suite, load_cases, run_cases
from arf.governance.replay import replay, suggest
from arf.governance.schema import neutral_input
from arf.governance.service_catalog import ServiceCatalog
from arf.runtime.container import packaged_policy

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def pack_text() -> str:
    return resources.files("arf.governance").joinpath("default_policy.yaml").read_text("utf-8")


def pack_cases_text() -> str:
    name = "default_policy.cases.yaml"
    return resources.files("arf.governance").joinpath(name).read_text("utf-8")


def test_the_default_pack_passes_its_cases_with_every_rule_exercised() -> None:
    bundle = packaged_policy()
    report = run_cases(bundle, load_cases(pack_cases_text(), "cases"))
    assert report.failed == 0, [r.failures for r in report.results if not r.passed]
    assert report.uncovered == ()
    assert report.covered >= {r.rule_id for r in bundle.rules}


def test_the_cases_catch_a_weakened_pack() -> None:
    weakened = (
        pack_text()
        .replace('"::/0"])\n    effect: deny', '"::/0"])\n    effect: allow')
        .replace(
            "when: history.active_on_target > 0\n    effect: deny",
            "when: history.active_on_target > 0\n    effect: acknowledge",
        )
    )
    assert weakened.count("effect: deny") == pack_text().count("effect: deny") - 2
    bundle = load_policy_text(weakened, "weakened.yaml")
    report = run_cases(bundle, load_cases(pack_cases_text(), "cases"))
    failing = {r.case.name for r in report.results if not r.passed}
    assert failing == {
        "a second remediation on a busy target is denied",
        "opening ingress to the world is denied",
        "opening IPv6 ingress to the world is denied",
    }


def test_an_uncovered_rule_is_reported() -> None:
    extended = pack_text() + (
        '\n  - id: never-used\n    when: target.owner == "nobody-owns-this"\n    effect: approve\n'
    )
    report = run_cases(load_policy_text(extended, "x.yaml"), load_cases(pack_cases_text(), "c"))
    assert report.uncovered == ("never-used",)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "- {name: a, input: {target: {enviroment: production}}, expect: {route: deny}}",
            "no field 'target.enviroment'",
        ),
        ("- {name: a, expect: {route: deny, because: x}}", "unknown expectation"),
        ("- {name: a}", "needs an 'expect'"),
        ("- {input: {}, expect: {route: deny}}", "needs a name"),
    ],
)
def test_bad_case_files_are_clear_errors(case: str, message: str) -> None:
    with pytest.raises(PolicyLoadError, match=message):
        load_cases(f"cases:\n{case}\n", "c.yaml")


def test_a_wrong_expectation_fails_with_the_reason() -> None:
    cases = load_cases(
        "cases:\n- {name: wrong, input: {action: {name: delete_namespace}},"
        " expect: {route: autonomous, rules: [nope], reason: banana}}\n",
        "c.yaml",
    )
    (result,) = run_cases(packaged_policy(), cases).results
    assert result.route == "deny"
    assert result.failures == (
        "route deny, expected autonomous",
        "rule nope did not match",
        "no matched reason contains 'banana'",
    )


def test_find_suite_wants_one_policy_and_some_cases(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(pack_text(), "utf-8")
    with pytest.raises(PolicyLoadError, match="no case files"):
        find_suite(tmp_path)
    (tmp_path / "tests.yaml").write_text(pack_cases_text(), "utf-8")
    policy_path, case_paths = find_suite(tmp_path)
    assert policy_path.name == "policy.yaml" and [p.name for p in case_paths] == ["tests.yaml"]
    (tmp_path / "other.yaml").write_text(pack_text(), "utf-8")
    with pytest.raises(PolicyLoadError, match="exactly one policy"):
        find_suite(tmp_path)


# ------------------------------------------------------------------ lint


def test_the_default_pack_lints_clean() -> None:
    assert lint_text(pack_text(), "pack.yaml") == []


def test_lint_warns_about_an_action_no_rule_reading_action_attributes_covers() -> None:
    specs = ActionCatalog(default_actions()).specs()
    assert lint_text(pack_text(), "pack.yaml", actions=specs) == []
    by_name_only = (
        "name: t\nrules:\n"
        "  - {id: allow-restart, when: 'action.name == \"restart_service\"', effect: allow}\n"
        "  - {id: ack-prod, when: 'target.environment == \"production\"', effect: acknowledge}\n"
    )
    findings = lint_text(by_name_only, "t.yaml", actions=specs)
    uncovered = {f.rule_id for f in findings if f.kind == "uncovered"}
    assert uncovered == {s.name for s in specs} - {"restart_service"}
    assert all(f.warning for f in findings if f.kind == "uncovered")


def test_lint_reports_every_error_with_its_line() -> None:
    text = (
        "name: t\nrules:\n"
        "  - {id: a, when: 'plan.stepz > 1', effect: allow}\n"
        "  - {id: b, when: 'foo.bar', effect: allow}\n"
        "  - {id: c, when: 'action.name ==', effect: deny}\n"
    )
    findings = lint_text(text, "t.yaml")
    assert [(f.kind, f.rule_id, f.line) for f in findings] == [
        ("error", "a", 3),
        ("error", "b", 4),
        ("error", "c", 5),
    ]
    assert "no field 'stepz'" in findings[0].message


def test_lint_finds_unreachable_shadowed_and_duplicate_rules() -> None:
    text = (
        "name: t\nrules:\n"
        "  - {id: allow-low, when: 'action.risk_class == \"low\"', effect: allow}\n"
        "  - {id: deny-low, when: 'action.risk_class == \"low\" && true', effect: deny}\n"
        "  - {id: impossible, when: 'plan.steps > 3 && plan.steps < 2', effect: approve}\n"
        "  - {id: ack-prod, when: 'target.environment == \"production\"', effect: acknowledge}\n"
        "  - {id: same, when: 'target.environment   == \"production\"', effect: approve}\n"
    )
    found = {(f.kind, f.rule_id) for f in lint_text(text, "t.yaml")}
    assert found == {
        ("shadowed", "allow-low"),
        ("unreachable", "impossible"),
        ("duplicate", "same"),
        ("shadowed", "ack-prod"),
    }


# ------------------------------------------------------------------ simulate (replay)


def recorded(decision_id: str, route: Route, **override: object) -> DecisionEnvelope:
    document = neutral_input()
    for section, values in override.items():
        assert isinstance(values, dict)
        document[section].update(values)
    return DecisionEnvelope(
        decision_id=decision_id,
        incident_id=f"INC-{decision_id}",
        plan_id="p",
        plan_hash="a" * 64,
        policy_version="v",
        matched_rules=(),
        risk_score=0.1,
        risk_factors=(),
        route=route,
        blast_radius=BlastRadius(services=1, resources=1, replicas=3),
        max_resources=5,
        decided_at=AT,
        policy_input={"steps": [document]},
    )


def test_replaying_under_the_same_policy_changes_nothing_and_a_stricter_one_is_listed() -> None:
    decisions = [
        recorded("1", Route.AUTONOMOUS),
        recorded(
            "2",
            Route.APPROVE,
            action={"risk_class": "medium"},
            target={"environment": "production"},
        ),
    ]
    assert [r.changed for r in replay(decisions, packaged_policy())] == [False, False]
    stricter = load_policy_text(
        pack_text() + "\n  - {id: staging-freeze, when: 'target.environment == \"staging\"',"
        " effect: approve}\n",
        "candidate.yaml",
    )
    first, second = replay(decisions, stricter)
    assert (first.recorded, first.replayed, first.rules) == (
        "autonomous",
        "approve",
        ("staging-freeze",),
    )
    assert not second.changed


def test_an_input_recorded_by_an_older_arf_is_filled_and_flagged() -> None:
    decision = recorded("1", Route.AUTONOMOUS)
    steps = decision.policy_input["steps"]
    assert isinstance(steps, list) and isinstance(steps[0], dict)
    del steps[0]["history"]
    (result,) = replay([decision], packaged_policy())
    assert "history" in result.filled and not result.changed


# ------------------------------------------------------------------ suggest


def test_suggestions_from_outcomes() -> None:
    catalog = ServiceCatalog(
        [
            ServiceInfo(
                name="api", owner="t", environment="production", criticality=Criticality.HIGH
            ),
            ServiceInfo(
                name="db",
                owner="t",
                environment="production",
                criticality=Criticality.HIGH,
                autonomy=Autonomy.ACKNOWLEDGE,
            ),
        ]
    )

    def runs(target: str, action: str, outcomes: list[str], route: Route) -> list[ActionRun]:
        return [
            ActionRun(
                incident_id=f"{target}-{action}-{i}",
                action=action,
                target=target,
                target_kind="service",
                route=route,
                at=AT - timedelta(hours=i),
                outcome=outcome,
            )
            for i, outcome in enumerate(outcomes)
        ]

    history = [
        *runs("api", "restart_service", ["verified"] * 20, Route.ACKNOWLEDGE),
        *runs("api", "revert_config", ["verified"] * 19, Route.ACKNOWLEDGE),  # one short
        *runs(
            "db",
            "restart_service",
            ["verified", "rolled_back", "failed", "verified", "rolled_back"],
            Route.AUTONOMOUS,
        ),
        *runs("api", "scale", ["verified"] * 19 + ["rolled_back"], Route.ACKNOWLEDGE),
    ]
    found = {(s.service, s.action, s.proposal) for s in suggest(history, catalog)}
    assert found == {("api", "restart_service", "autonomous"), ("db", "restart_service", "approve")}
