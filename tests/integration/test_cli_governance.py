"""`arf policy ...` and `arf control ...` as a user runs them."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from tests.integration.test_cli import arf, assert_one_line_error


def pack_file(name: str) -> str:
    return resources.files("arf.governance").joinpath(name).read_text("utf-8")


def test_policy_test_on_the_default_pack_passes_with_every_rule_exercised(tmp_path: Path) -> None:
    result = arf(tmp_path, "policy", "test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed; rules exercised: 22/22" in result.stdout


def test_policy_test_fails_on_a_wrong_case_and_on_an_unexercised_rule(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "policy.yaml").write_text(pack_file("default_policy.yaml"), "utf-8")
    (suite / "cases.yaml").write_text(
        "cases:\n- {name: destructive is fine, input: {action: {name: delete_namespace}},"
        " expect: {route: autonomous}}\n",
        "utf-8",
    )
    result = arf(tmp_path, "policy", "test", str(suite))
    assert result.returncode == 1
    assert "FAIL: route deny, expected autonomous" in result.stdout
    assert "rules no case exercised:" in result.stderr
    lenient = arf(tmp_path, "policy", "test", str(suite), "--allow-uncovered")
    assert lenient.returncode == 1  # the failing case still fails
    assert_one_line_error(arf(tmp_path, "policy", "test", str(tmp_path / "nope")), "not a dir")


def test_policy_lint(tmp_path: Path) -> None:
    clean = arf(tmp_path, "policy", "lint")
    assert clean.returncode == 0 and "no findings" in clean.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nrules:\n"
        "  - {id: a, when: 'target.enviroment == \"production\"', effect: approve}\n"
        "  - {id: b, when: 'plan.steps > 3 && plan.steps < 2', effect: deny}\n",
        "utf-8",
    )
    result = arf(tmp_path, "policy", "lint", str(bad))
    assert result.returncode == 1
    assert "error: a (line 3)" in result.stdout and "no field 'enviroment'" in result.stdout
    fixed = bad.read_text("utf-8").replace("enviroment", "environment")
    bad.write_text(fixed, "utf-8")
    result = arf(tmp_path, "policy", "lint", str(bad))
    assert "unreachable: b (line 4)" in result.stdout


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("gov-demo")
    result = arf(home, "demo")
    assert result.returncode == 0, result.stderr
    return home


def test_policy_simulate_replays_the_demo_decisions(demo_copy: Path, tmp_path: Path) -> None:
    same = tmp_path / "same.yaml"
    same.write_text(pack_file("default_policy.yaml"), "utf-8")
    result = arf(demo_copy, "policy", "simulate", "--policy", str(same), "--since", "3650d")
    assert result.returncode == 0, result.stderr
    assert "0 would change" in result.stdout
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(
        pack_file("default_policy.yaml")
        + "\n  - {id: payments-freeze, when: 'target.name == \"payments\"', effect: approve}\n",
        "utf-8",
    )
    result = arf(
        demo_copy,
        "policy",
        "simulate",
        "--policy",
        str(stricter),
        "--since",
        "3650d",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(r["replayed"] == "approve" for r in rows)
    assert {tuple(r["rules"]) for r in rows} == {("payments-freeze",)}
    assert_one_line_error(
        arf(demo_copy, "policy", "simulate", "--policy", str(stricter), "--since", "soon"),
        "window",
    )


def test_policy_suggest_runs_on_the_demo(demo_copy: Path) -> None:
    result = arf(demo_copy, "policy", "suggest", "--since", "3650d")
    assert result.returncode == 0, result.stderr
    assert "no suggestions" in result.stdout  # nine incidents are far too few to learn from


def test_policy_calibration_shows_claims_against_verified_outcomes(
    demo_copy: Path, tmp_path: Path
) -> None:
    result = arf(demo_copy, "policy", "calibration")
    assert result.returncode == 0, result.stderr
    assert "evidence" in result.stdout and "as claimed" in result.stdout  # too few to calibrate
    document = json.loads(arf(demo_copy, "policy", "calibration", "--json").stdout)
    assert document["settings"]["min_outcomes"] == 20
    [row] = document["bins"]  # every demo plan claimed 0.8-1.0
    assert row["provenance"] == "evidence" and row["plans"] >= 5
    assert row["verified"] == row["plans"] and row["calibrated"] is False
    assert arf(tmp_path / "fresh", "run").returncode == 0  # a home with no plans yet
    empty = arf(tmp_path / "fresh", "policy", "calibration")
    assert empty.returncode == 0 and "no finished remediation plans" in empty.stdout


def test_control_stop_status_resume(demo_copy: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(demo_copy, home)
    stopped = arf(home, "control", "stop", "--reason", "game day")
    assert stopped.returncode == 0, stopped.stderr
    assert "kill switch: ON" in stopped.stdout and "demo-approver" in stopped.stdout
    status = arf(home, "control", "status")
    assert "kill switch: ON" in status.stdout and "game day" in status.stdout
    assert_one_line_error(arf(home, "control", "stop", "--reason", ""), "needs a reason")
    assert_one_line_error(
        arf(home, "control", "stop", "--reason", "x", env={"ARF_TOKEN": "stolen"}),
        "does not belong",
    )
    resumed = arf(home, "control", "resume", "--reason", "game day over")
    assert resumed.returncode == 0 and "kill switch: off" in resumed.stdout
    shadow = arf(home, "control", "shadow", "on", "--reason", "trial")
    assert "shadow mode: on" in shadow.stdout
    audit = arf(home, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_show_json_explains_the_routed_plan(demo_copy: Path) -> None:
    from tests.integration.test_cli import pending_incident

    incident = pending_incident(demo_copy)
    result = arf(demo_copy, "show", incident, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    decision = document["decision"]
    assert decision["route"] == "approve" and len(decision["risk_factors"]) == 9
    assert {m["rule_id"] for m in decision["matched_rules"]} >= {"irreversible-needs-approval"}
    assert document["plan"]["rollback"] and document["plan"]["steps"][0]["action"]
    cited = document["diagnosis"]["hypotheses"][0]["evidence"]
    assert cited and all(item["summary"] for item in cited)
