"""A team's own action, dropped into `$ARF_HOME/actions.d` with no source edit: listed,
validated, offered to reasoning, executed and rolled back on the simulated platform; a
broken one stops ARF with a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from arf.core.action_pack import ActionManifest
from arf.core.clock import ManualClock
from arf.core.records import IncidentState, PlanStep, Route, Verdict
from arf.execution.action_packs import default_actions, load_pack, standard_pack
from arf.execution.executor import Executor
from arf.oversight.identities import Identity
from arf.runtime import operations
from arf.runtime.container import build_runtime
from arf.runtime.ingest import Ingestor
from arf.runtime.settings import Settings
from tests.conftest import REPO, make_runtime
from tests.integration.driving import firing_alert
from tests.integration.test_cli import arf, assert_one_line_error

ADD_REPLICA = (REPO / "docs" / "examples" / "actions" / "add_one_replica.yaml").read_text()


def _home(tmp_path: Path, text: str = ADD_REPLICA) -> Path:
    home = tmp_path / "home"
    (home / "actions.d").mkdir(parents=True)
    (home / "actions.d" / "add_one_replica.yaml").write_text(text)
    return home


def test_a_team_action_is_offered_to_reasoning_and_runs_with_its_rollback(
    tmp_path: Path,
) -> None:
    runtime = build_runtime(Settings(home=_home(tmp_path), clock="sim"))
    try:
        assert "add_one_replica" in runtime.specs
        assert "rollback_deploy" in runtime.specs  # the packaged actions are still there
        executor: Executor = runtime.executor
        step = PlanStep(action="add_one_replica", target="checkout", params={})
        before = runtime.platform.describe("checkout")
        assert before is not None and isinstance(before["replicas"], int)
        pre_state = executor.capture(step)
        executor.run_step(step, pre_state, "k1")
        after = runtime.platform.describe("checkout")
        assert after is not None and after["replicas"] == before["replicas"] + 1
        assert executor.already_done(step) is None  # relative: never "already done"
        executor.rollback_step(step, pre_state, "k2")
        restored = runtime.platform.describe("checkout")
        assert restored is not None and restored["replicas"] == before["replicas"]
    finally:
        runtime.close()


def test_an_action_the_platform_cannot_run_is_listed_but_never_offered(tmp_path: Path) -> None:
    home = _home(tmp_path)
    (home / "actions.d" / "purge.yaml").write_text(
        ADD_REPLICA.replace("name: add_one_replica", "name: purge_cdn").replace(
            "op: scale", "op: purge_cdn_cache"
        )
    )
    runtime = build_runtime(Settings(home=home, clock="sim"))
    try:
        assert "purge_cdn" not in runtime.specs and "add_one_replica" in runtime.specs
    finally:
        runtime.close()
    rows = {r["name"]: r for r in json.loads(arf(home, "actions", "list", "--json").stdout)}
    assert rows["purge_cdn"]["platforms"] == "hosts (if bound)"
    where = set(rows["add_one_replica"]["platforms"].split(", "))
    assert where == {"hosts (if bound)", "kubernetes", "sim"}


def test_the_cli_lists_and_validates_a_team_action(tmp_path: Path) -> None:
    home = _home(tmp_path)
    listed = arf(home, "actions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["add_one_replica"]["source"] == str(home / "actions.d")
    assert rows["failover_database"]["rollback"] == "irreversible"
    packaged = len(default_actions()) + len(load_pack(standard_pack()))
    assert len(rows) == packaged + 1
    shown = arf(home, "actions", "show", "add_one_replica")
    assert shown.returncode == 0 and "op: scale" in shown.stdout
    valid = arf(home, "actions", "validate", str(home / "actions.d"))
    assert valid.returncode == 0 and "ok: 1 action(s) valid" in valid.stdout
    clash = tmp_path / "restart_service.yaml"
    clash.write_text(ADD_REPLICA.replace("name: add_one_replica", "name: restart_service"))
    assert_one_line_error(
        arf(home, "actions", "validate", str(clash)), "'restart_service' is already declared"
    )
    packaged = len(default_actions()) + len(load_pack(standard_pack()))
    validated = arf(home, "actions", "validate").stdout.strip()
    assert validated == f"ok: {packaged + 1} action(s) valid"
    cases = REPO / "docs" / "examples" / "actions" / "add_one_replica.cases.yaml"
    (home / "actions.d" / cases.name).write_text(cases.read_text())
    tested = arf(home, "actions", "test", str(home / "actions.d"))
    assert tested.returncode == 0, tested.stdout
    assert "3 passed, 0 failed" in tested.stdout
    packaged = sum(
        len(yaml.safe_load(f.read_text())["cases"])
        for pack in ("default_pack", "standard_pack")
        for f in (REPO / "src" / "arf" / "execution" / pack).glob("*.cases.yaml")
    )
    everything = arf(home, "actions", "test")
    assert everything.returncode == 0, everything.stdout
    assert f"{packaged + 3} passed, 0 failed" in everything.stdout
    (home / "actions.d" / cases.name).write_text(
        cases.read_text().replace("replicas: 4}", "replicas: 5}")
    )
    failing = arf(home, "actions", "test", str(home / "actions.d"))
    assert failing.returncode == 1 and "2 passed, 1 failed" in failing.stdout
    schema = arf(home, "actions", "schema")
    assert json.loads(schema.stdout) == ActionManifest.model_json_schema()


def test_a_broken_team_action_stops_arf_with_a_one_line_error(
    tmp_path: Path, shared_data: Path
) -> None:
    home = _home(tmp_path, ADD_REPLICA.replace("vars.replicas + 1}", "vars.replica + 1}"))
    path = home / "actions.d" / "add_one_replica.yaml"
    assert_one_line_error(
        arf(home, "actions", "validate", str(path)), "vars.replica is not declared"
    )
    assert_one_line_error(arf(home, "actions", "list"), f"{path}:21: forward.0.args.replicas")
    started = arf(home, "ingest", str(shared_data / "alertmanager" / "firing.json"))
    assert_one_line_error(started, "vars.replica is not declared")
    assert not (home / "arf.db").exists()  # refused before anything was stored


def test_showing_an_unknown_action_is_a_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(arf(tmp_path, "actions", "show", "nothing_like_it"), "no action")


DRAIN = ADD_REPLICA.replace("name: add_one_replica", "name: drain_stuck_queue").replace(
    "remedies:\n  symptoms: [resource_exhaustion]",
    "remedies:\n  symptoms: [dependency_failure]\n  alerts: [PaymentsQueueStuck]",
)


def test_an_unfamiliar_alert_gets_a_team_actions_plan_a_person_acknowledges(
    tmp_path: Path, clock: ManualClock
) -> None:
    """No knowledge entry names the alert; a team action declares it remedies it. Instead of
    a page, ARF proposes that action, routes it to a person (found through the catalog only),
    and once acknowledged executes, verifies and records it."""
    home = _home(tmp_path, DRAIN)
    runtime = make_runtime(home, clock)
    try:
        Ingestor(runtime).ingest(
            "alertmanager", firing_alert(runtime, "payments", "PaymentsQueueStuck")
        )
        clock.advance(120)
        operations.advance(runtime)
        with runtime.store.unit_of_work() as uow:
            (incident,) = uow.list_incidents()
            decision = uow.latest_decision(incident.incident_id)
        assert incident.state is IncidentState.AWAITING_HUMAN
        assert decision is not None and decision.route is Route.ACKNOWLEDGE
        matched = {m.rule_id for m in decision.matched_rules}
        assert "catalog-only-needs-acknowledgement" in matched
        sam = Identity("sam", frozenset({"sre"}))
        operations.answer(runtime, incident.incident_id, sam, Verdict.APPROVE)
        for _ in range(20):
            clock.advance(30)
            runtime.platform.tick()
            operations.advance(runtime)
        with runtime.store.unit_of_work() as uow:
            final = uow.get_incident(incident.incident_id)
            kinds = [e.kind for e in uow.ledger_for_incident(incident.incident_id)]
            steps = uow.executions_for(incident.incident_id)
        assert final.state is IncidentState.RESOLVED, final.state
        assert [(s.action, s.status.value) for s in steps][-1] == (
            "drain_stuck_queue",
            "succeeded",
        )
        for kind in ("decision.recorded", "approval.recorded", "execution.step"):
            assert kind in kinds, kind
        assert kinds.index("approval.recorded") < kinds.index("execution.step")
        assert kinds[-2] == "verification.recorded"
    finally:
        runtime.close()
