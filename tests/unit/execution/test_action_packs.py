"""Action packs: the format, its checks at load time, and what a compiled action does."""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

import pytest
from pydantic import JsonValue

from arf.core.action_pack import ActionManifest
from arf.core.records import Effect, PlanStep
from arf.execution.action_packs import (
    ActionCatalog,
    PackError,
    default_actions,
    default_pack,
    load_definition,
    load_pack,
)
from arf.execution.action_tests import ActionTestReport, run_cases
from arf.governance.decide import action_input
from arf.governance.policy import route
from arf.governance.schema import neutral_input
from arf.runtime.container import packaged_policy
from arf.runtime.plugins import load_catalog
from arf.runtime.settings import Settings
from tests.conftest import REPO

VALID = """\
format: arf/action/v1
name: flush_cache
version: 1.0.0
description: Flush a service's cache.
target_kind: service
risk_class: low
disruption: none
permissions: ["cache:flush"]
verification: service_health
params:
  keys:
    type: integer
    minimum: 1
    maximum: 100
preconditions:
  - require: "has(state.kind) && state.kind == 'service'"
    message: "${target} is not a service"
forward:
  - op: restart
    args: {keys: params.keys}
rollback:
  description: nothing to undo
  nothing_to_undo: true
effect:
  leaves_no_trace: true
"""


def _error(text: str, tmp_path: Path, name: str = "action.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PackError) as caught:
        load_pack(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}:"), message
    return message


def test_the_valid_sample_loads_and_renders_typed_operations() -> None:
    action = load_definition(VALID, "sample.yaml")
    step = PlanStep(action="flush_cache", target="api", params={"keys": 3})
    assert action.preconditions(step, {"kind": "service"}) == []
    assert action.forward(step, {"kind": "service"}) == [("restart", {"keys": 3})]
    assert action.effect is None


@pytest.mark.parametrize(
    ("change", "fragment", "line"),
    [
        (("risk_class: low", "risk_class: lowish"), "risk_class: Input should be", 6),
        (("disruption: none", "disruption: none\nrisk: low"), "risk: Extra inputs", 8),
        (("    maximum: 100\n", ""), "params.keys: an integer parameter needs both", 11),
        (("args: {keys: params.keys}", "args: {keys: params.count}"), "params.count is not", 20),
        (("args: {keys: params.keys}", "args: {keys: 'params.keys +'}"), "not valid CEL", 20),
        (("description: nothing to undo", "irreversible: false"), "rollback.description", 21),
        (("  leaves_no_trace: true", "  read: state.kind"), "declare either read and after", 24),
        (('permissions: ["cache:flush"]', "permissions: []"), "permissions", 8),
        (("format: arf/action/v1", "format: arf/action/v9"), "format: Input should be", 1),
        (("  nothing_to_undo: true\n", ""), "rollback: declare exactly one of", 21),
        (
            ("    maximum: 100\n", "    maximum: 100\n    default: 500\n"),
            "default does not fit",
            11,
        ),
        (("args: {keys: params.keys}", "args: {keys: {nested: params.x}}"), "args.keys", 20),
        (
            ("verification: service_health", "verification: service_healthy"),
            "verification: unknown 'service_healthy' (known: scan_clean, service_health)",
            9,
        ),
        (("    minimum: 1\n", "    minimum: 500\n"), "params.keys: minimum is above maximum", 11),
        (
            (
                "  leaves_no_trace: true\n",
                "  leaves_no_trace: true\nremedies: {finding_param: id}\n",
            ),
            "remedies name the parameter 'id'",
            1,
        ),
    ],
)
def test_each_kind_of_bad_input_is_one_line_naming_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], fragment: str, line: int
) -> None:
    old, new = change
    assert old in VALID
    message = _error(VALID.replace(old, new, 1), tmp_path)
    assert fragment in message, message
    assert re.match(rf"^{re.escape(str(tmp_path))}/action\.yaml:{line}: ", message), message


def test_malformed_yaml_and_a_string_without_bounds_are_refused(tmp_path: Path) -> None:
    assert "not valid YAML" in _error(VALID + "  - [unclosed\n", tmp_path)
    unbounded = VALID.replace(
        "    type: integer\n    minimum: 1\n    maximum: 100", "    type: string"
    )
    assert "needs an enum, a pattern or a max_length" in _error(unbounded, tmp_path)
    assert "not one YAML mapping" in _error("- a\n- b\n", tmp_path)


def test_a_name_declared_twice_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(VALID)
    with pytest.raises(PackError, match=r"b\.yaml: action 'flush_cache' is already declared by"):
        ActionCatalog(load_pack(tmp_path))


def test_a_broken_pack_stops_the_catalog_rather_than_loading_without_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "actions.d").mkdir(parents=True)
    (home / "actions.d" / "bad.yaml").write_text(VALID.replace("1.0.0", "one"))
    with pytest.raises(PackError, match=r"bad\.yaml:3: version"):
        load_catalog(Settings(home=home))


def test_parameters_are_checked_against_the_schema_before_anything_is_rendered() -> None:
    action = load_definition(VALID, "sample.yaml")
    for params in ({"keys": 1000}, {"keys": "1; rm -rf /"}, {}, {"keys": 2, "extra": 1}):
        step = PlanStep(action="flush_cache", target="api", params=params)
        assert action.preconditions(step, {"kind": "service"}), params
        with pytest.raises(Exception, match="flush_cache on api"):
            action.forward(step, {"kind": "service"})


def test_a_failing_precondition_is_reported_with_its_message_filled_in() -> None:
    action = load_definition(VALID, "sample.yaml")
    step = PlanStep(action="flush_cache", target="api", params={"keys": 1})
    assert action.preconditions(step, {"kind": "resource"}) == ["api is not a service"]
    # a pre-state the expression cannot read (no `kind`) fails closed
    assert action.preconditions(step, {}) == ["api is not a service"]


def test_every_registered_action_declares_what_governance_and_recovery_need() -> None:
    """The registry meta-test: bounded parameters, a rollback or `irreversible`, a
    verification, an effect and permissions, for every action any plug-in registers."""
    catalog = load_catalog(Settings(home=Path("/nonexistent-arf-home")))
    assert len(catalog.specs()) >= 7
    for definition in catalog.definitions():
        manifest = definition.manifest
        assert manifest.permissions, manifest.name
        assert manifest.verification, manifest.name
        assert manifest.rollback.irreversible or manifest.rollback.description, manifest.name
        assert manifest.effect.leaves_no_trace or manifest.effect.read, manifest.name
        for name, schema in manifest.params.items():
            if schema.type in ("integer", "number"):
                assert schema.minimum is not None and schema.maximum is not None, name
            if schema.type == "string":
                assert schema.enum or schema.pattern or schema.max_length, name


def test_the_default_pack_is_the_seven_built_ins_with_their_rollbacks() -> None:
    by_name = {d.spec.name: d for d in default_actions()}
    assert set(by_name) == {
        "rollback_deploy",
        "revert_config",
        "increase_memory_limit",
        "restart_service",
        "scale_service",
        "failover_database",
        "apply_iac_patch",
    }
    deploy = by_name["rollback_deploy"]
    state: dict[str, JsonValue] = {
        "kind": "service",
        "version": "v3",
        "release_history": ["v1", "v2", "v3"],
    }
    step = PlanStep(action="rollback_deploy", target="api", params={"to_version": "v2"})
    assert deploy.preconditions(step, state) == []
    assert deploy.forward(step, state) == [("deploy", {"version": "v2"})]
    assert deploy.backward(step, state) == [("deploy", {"version": "v3"})]
    latest = PlanStep(action="rollback_deploy", target="api", params={"to_version": "v3"})
    assert deploy.preconditions(latest, state) == ["'v3' is not an earlier release of api"]
    memory = by_name["increase_memory_limit"]
    raise_it = PlanStep(action="increase_memory_limit", target="api", params={"factor": 1.5})
    assert memory.forward(raise_it, {"memory_limit_mb": 512}) == [
        ("set_memory_limit", {"memory_mb": 768})
    ]
    assert memory.preconditions(raise_it, {"memory_limit_mb": 6000}) == [
        "the new limit would exceed 8192 MiB"
    ]
    assert not by_name["failover_database"].spec.reversible


def test_the_published_schema_is_the_format_in_force() -> None:
    """docs/action-schema.json is what `arf actions schema` prints (regenerate it with
    `arf actions schema > docs/action-schema.json`)."""
    published = json.loads((REPO / "docs" / "action-schema.json").read_text())
    assert published == ActionManifest.model_json_schema()


def team_pack() -> list[ActionManifest]:
    """A third party's plug-in, as its entry point would name it."""
    return [load_definition(VALID, "team").manifest]


def broken_pack() -> object:
    raise RuntimeError("the plug-in's own bug")


def test_plug_ins_register_actions_through_entry_points_and_a_broken_one_is_named() -> None:
    group = "arf.actions"
    here = "tests.unit.execution.test_action_packs"
    builtin = metadata.EntryPoint("default", "arf.execution.action_packs:default_pack", group)
    team = metadata.EntryPoint("team", f"{here}:team_pack", group)
    settings = Settings(home=Path("/nonexistent-arf-home"))
    catalog = load_catalog(settings, plugins=[builtin, team])
    assert "flush_cache" in catalog and "rollback_deploy" in catalog
    broken = metadata.EntryPoint("broken", f"{here}:broken_pack", group)
    with pytest.raises(PackError, match=r"plug-in 'broken' .* failed to load: the plug-in's own"):
        load_catalog(settings, plugins=[builtin, broken])
    wrong = metadata.EntryPoint("wrong", f"{here}:VALID", group)
    with pytest.raises(PackError, match="failed to load"):
        load_catalog(settings, plugins=[wrong])


def test_an_action_is_offered_only_where_the_platform_implements_its_operations() -> None:
    catalog = ActionCatalog([*default_actions(), load_definition(VALID, "sample.yaml")])
    kubernetes = catalog.for_platform(
        "kubernetes", frozenset({"deploy", "set_config", "set_memory_limit", "scale", "restart"})
    )
    assert "flush_cache" in kubernetes and "rollback_deploy" in kubernetes
    assert "failover_database" not in kubernetes and "apply_iac_patch" not in kubernetes
    deploy_only = catalog.for_platform("sim", frozenset({"deploy"}))
    assert [s.name for s in deploy_only.specs()] == ["rollback_deploy"]


# ------------------------------------------------------------------ arf actions test


def _cases(tmp_path: Path, cases: str) -> ActionTestReport:
    (tmp_path / "flush_cache.yaml").write_text(VALID)
    (tmp_path / "flush_cache.cases.yaml").write_text("action: flush_cache\ncases:\n" + cases)
    return run_cases(ActionCatalog(load_pack(tmp_path)), [tmp_path])


def test_action_cases_pass_when_the_action_does_what_they_say(tmp_path: Path) -> None:
    report = _cases(
        tmp_path,
        "  - name: flushes\n    params: {keys: 3}\n    state: {kind: service}\n"
        "    expect: {forward: [{op: restart, args: {keys: 3}}], rollback: []}\n"
        "  - name: refuses a resource\n    params: {keys: 3}\n    state: {kind: resource}\n"
        "    expect: {refused: is not a service}\n",
    )
    assert [r.passed for r in report.results] == [True, True] and not report.untested


def test_action_cases_fail_when_the_action_does_otherwise(tmp_path: Path) -> None:
    report = _cases(
        tmp_path,
        "  - name: wrong operation\n    params: {keys: 3}\n    state: {kind: service}\n"
        "    expect: {forward: [{op: scale, args: {keys: 3}}]}\n"
        "  - name: expected a refusal\n    params: {keys: 3}\n    state: {kind: service}\n"
        "    expect: {refused: nope}\n"
        "  - name: refused unexpectedly\n    params: {keys: 3}\n    state: {kind: resource}\n"
        "    expect: {forward: []}\n"
        "  - name: effect of a traceless action\n    params: {keys: 3}\n"
        "    state: {kind: service}\n    expect: {effect: {before: 1, after: 2}}\n",
    )
    failures = [r.failures[0] for r in report.results]
    assert report.failed == 4
    assert failures[0].startswith("forward: sends restart")
    assert "it would run" in failures[1]
    assert failures[2] == "refused: target is not a service"
    assert "leaves no trace" in failures[3]


def test_a_bad_case_file_is_one_line_naming_file_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(PackError, match=r"flush_cache\.cases\.yaml:4: cases\.0\.expect: "):
        _cases(tmp_path, "  - name: says nothing\n    expect: {}\n")
    (tmp_path / "flush_cache.cases.yaml").write_text("action: flush_it\ncases: [{name: x}]\n")
    with pytest.raises(PackError, match=r"cases\.0\.expect: Field required"):
        run_cases(ActionCatalog(load_pack(tmp_path)), [tmp_path])
    (tmp_path / "flush_cache.cases.yaml").write_text(
        "action: flush_it\ncases: [{name: x, expect: {refused: y}}]\n"
    )
    with pytest.raises(PackError, match=r"cases\.yaml:1: action: no action 'flush_it'"):
        run_cases(ActionCatalog(load_pack(tmp_path)), [tmp_path])


def test_the_packaged_actions_pass_their_cases_and_each_has_some() -> None:
    catalog = ActionCatalog(default_actions())
    report = run_cases(catalog, [default_pack()])
    assert report.failed == 0, [r for r in report.results if not r.passed]
    assert not report.untested
    assert len(report.results) >= 3 * len(catalog.specs())


def test_a_pack_cannot_widen_what_the_policy_denies() -> None:
    """Whatever a pack declares of itself, the policy decides: an action named like a
    destructive one, or tagged destructive, is denied even when it claims low risk."""
    bundle = packaged_policy()
    for rename, tags in (("drop_database", "[]"), ("purge_everything", "[destructive]")):
        text = VALID.replace("name: flush_cache", f"name: {rename}").replace(
            "disruption: none", f"disruption: none\ntags: {tags}"
        )
        spec = load_definition(text, "pack.yaml").spec
        document = neutral_input()
        document["action"] = action_input(spec)
        assert route(bundle, [document]).effect is Effect.DENY, rename
    harmless = neutral_input()
    harmless["action"] = action_input(load_definition(VALID, "pack.yaml").spec)
    assert route(bundle, [harmless]).effect is Effect.ALLOW


def test_a_string_pattern_that_does_not_compile_is_refused_at_load(tmp_path: Path) -> None:
    text = VALID.replace(
        "    type: integer\n    minimum: 1\n    maximum: 100",
        '    type: string\n    pattern: "[a-"',
    )
    assert "is not a regular expression" in _error(text, tmp_path)
