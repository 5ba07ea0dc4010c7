"""Allowlisted playbooks through ansible-runner, for real, against localhost: check mode
changes nothing, the run changes the file, the rollback restores it byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from arf.core.errors import ConfigError, ExecutionError
from arf.execution.ansible_actions import AnsibleExecutor, load_actions

PLAYBOOKS = Path(__file__).resolve().parents[1] / "data" / "ansible"
CONFIG = """
ansible_actions:
  set_config_line:
    playbook: set_line.yml
    rollback_playbook: restore_file.yml
    vars:
      path: {type: string, pattern: "^/[A-Za-z0-9_./-]+$"}
      value: {type: string, pattern: "^[a-z_]+=[A-Za-z0-9_.-]{1,32}$"}
  always_fails:
    playbook: fail.yml
    rollback_playbook: none
"""


@pytest.fixture
def executor() -> AnsibleExecutor:
    return AnsibleExecutor(load_actions(CONFIG, "actions.yaml", PLAYBOOKS), PLAYBOOKS)


@pytest.mark.timeout(300)
def test_check_mode_then_run_then_rollback(tmp_path: Path, executor: AnsibleExecutor) -> None:
    config = tmp_path / "app.conf"
    original = "# app\npool_size=10\ntimeout=30\n"
    config.write_text(original, "utf-8")
    params = {"path": str(config), "value": "pool_size=50"}
    dry = executor.dry_run("set_config_line", params)
    assert dry.changed == 1 and dry.diffs  # it would change, and says how
    assert config.read_text("utf-8") == original  # check mode changed nothing
    done = executor.run("set_config_line", params, "INC-1/abc/0/forward")
    assert done.changed == 1
    assert config.read_text("utf-8") == "# app\npool_size=50\ntimeout=30\n"
    assert done.pre_state == {"content": original}
    back = executor.rollback("set_config_line", params, done.pre_state, "INC-1/abc/0/forward")
    assert back is not None and back.changed == 1
    assert config.read_text("utf-8") == original
    again = executor.run("set_config_line", params, "INC-1/abc/0/forward")
    assert again.changed == 1
    assert executor.run("set_config_line", params, "INC-1/abc/0/forward").changed == 0


@pytest.mark.timeout(120)
def test_a_failing_playbook_and_bad_variables_are_execution_errors(
    tmp_path: Path, executor: AnsibleExecutor
) -> None:
    with pytest.raises(ExecutionError, match="the service refused the change"):
        executor.run("always_fails", {}, "k")
    assert executor.rollback("always_fails", {}, {}, "k") is None
    with pytest.raises(ExecutionError, match="does not match"):
        executor.run("set_config_line", {"path": "/tmp/x; rm -rf /", "value": "a=b"}, "k")
    with pytest.raises(ExecutionError, match="not an allowlisted"):
        executor.run("shell", {}, "k")


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("ansible_actions: {a: {playbook: set_line.yml}}", "declare a rollback_playbook"),
        (
            "ansible_actions: {a: {playbook: ../../etc/x.yml, rollback_playbook: none}}",
            "not a playbook inside",
        ),
        (
            "ansible_actions: {a: {playbook: nope.yml, rollback_playbook: none}}",
            "not a playbook inside",
        ),
        (
            "ansible_actions: {a: {playbook: set_line.yml, rollback_playbook: none,"
            " vars: {p: {type: string}}}}",
            "needs a pattern",
        ),
    ],
)
def test_unsafe_declarations_are_config_errors(snippet: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_actions(snippet, "actions.yaml", PLAYBOOKS)
