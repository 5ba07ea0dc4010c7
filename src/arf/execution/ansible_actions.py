"""Allowlisted Ansible playbooks through ansible-runner, with typed variables, check mode as
the dry run and a declared rollback playbook.

    ansible_actions:
      set_config_line:
        playbook: set_line.yml             # inside the configured playbook folder
        rollback_playbook: restore_line.yml  # or `none` (declared: nothing to undo)
        vars:
          path: {type: string, pattern: "^/[A-Za-z0-9_./-]+$"}
          value: {type: string, pattern: "^[A-Za-z0-9_.=-]{1,64}$"}
        inventory: "localhost ansible_connection=local"   # default

A forward playbook may publish the pre-state its rollback needs with
`ansible.builtin.set_stats: {data: {arf_pre: {...}}}`; ARF stores it before anything else
happens to the step, and hands it to the rollback playbook as the variable `arf_pre`. Every
run gets a fresh private data directory (ansible-runner keeps command lines there), the step's
idempotency key as `arf_idempotency_key`, and a timeout.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arf.core.errors import ConfigError, ExecutionError
from arf.core.yaml_files import yaml_section
from arf.execution.params import Param, check_values, load_params

LOCALHOST = "localhost ansible_connection=local"


@dataclass(frozen=True)
class AnsibleAction:
    name: str
    playbook: str
    rollback_playbook: str | None
    params: Mapping[str, Param]
    inventory: str


@dataclass(frozen=True)
class AnsibleResult:
    status: str
    changed: int
    diffs: tuple[Any, ...]
    pre_state: Mapping[str, Any]

    def summary(self) -> str:
        return f"{self.status}, {self.changed} task(s) changed"


def load_actions(text: str, origin: str, playbooks: Path) -> dict[str, AnsibleAction]:
    declared = yaml_section(text, origin, "ansible_actions", dict)
    actions = {}
    root = playbooks.resolve()
    for name, raw in declared.items():
        where = f"{origin}: {name}"
        if not isinstance(raw, Mapping) or not raw.get("playbook"):
            raise ConfigError(f"{where}: needs a playbook")
        if "rollback_playbook" not in raw:
            raise ConfigError(f"{where}: declare a rollback_playbook (a file, or `none`)")
        rollback = raw["rollback_playbook"]
        for playbook in filter(None, (raw["playbook"], None if rollback == "none" else rollback)):
            path = (root / str(playbook)).resolve()
            if root not in path.parents or not path.is_file():
                raise ConfigError(f"{where}: {playbook} is not a playbook inside {root}")
        actions[str(name)] = AnsibleAction(
            name=str(name),
            playbook=str(raw["playbook"]),
            rollback_playbook=None if rollback in (None, "none") else str(rollback),
            params=load_params(raw.get("vars"), where),
            inventory=str(raw.get("inventory") or LOCALHOST),
        )
    return actions


class AnsibleExecutor:
    def __init__(
        self, actions: Mapping[str, AnsibleAction], playbooks: Path, timeout_s: int = 300
    ) -> None:
        self._actions = dict(actions)
        self._playbooks = playbooks.resolve()
        self._timeout_s = timeout_s

    def _action(self, name: str) -> AnsibleAction:
        if name not in self._actions:
            raise ExecutionError(f"{name!r} is not an allowlisted playbook action")
        return self._actions[name]

    def _run(
        self,
        action: AnsibleAction,
        playbook: str,
        extravars: Mapping[str, Any],
        check: bool,
    ) -> AnsibleResult:
        import ansible_runner  # type: ignore[import-untyped]  # only where playbooks are used

        interpreter = f"ansible_python_interpreter={sys.executable}"
        # ansible-playbook from this environment, found through the child's PATH
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        with tempfile.TemporaryDirectory(prefix="arf-ansible-") as private:
            runner = ansible_runner.run(
                private_data_dir=private,
                project_dir=str(self._playbooks),
                playbook=playbook,
                inventory=f"{action.inventory} {interpreter}",
                extravars=dict(extravars),
                cmdline="--check --diff" if check else "--diff",
                envvars={"PATH": path},
                timeout=self._timeout_s,
                quiet=True,
            )
            events = list(runner.events)
            status, stats = runner.status, runner.stats or {}
        if status != "successful":
            failed = [
                e["event_data"].get("res", {}).get("msg", "")
                for e in events
                if e.get("event") in ("runner_on_failed", "runner_on_unreachable")
            ]
            reason = "; ".join(str(m)[:200] for m in failed if m) or status
            raise ExecutionError(f"{action.name}: playbook {playbook} {status}: {reason}")
        pre: dict[str, Any] = {}
        diffs: list[Any] = []
        for event in events:
            data = event.get("event_data") or {}
            if event.get("event") == "playbook_on_stats":
                found = (data.get("artifact_data") or {}).get("arf_pre")
                if isinstance(found, dict):
                    pre = found
            diff = (data.get("res") or {}).get("diff") if isinstance(data, dict) else None
            if diff:
                diffs.append(diff)
        changed = sum((stats.get("changed") or {}).values())
        return AnsibleResult(status, changed, tuple(diffs), pre)

    def dry_run(self, name: str, params: Mapping[str, Any]) -> AnsibleResult:
        """Check mode with diffs: what would change, changing nothing."""
        action = self._action(name)
        values = check_values(name, action.params, params)
        return self._run(action, action.playbook, _typed(values, action), check=True)

    def run(self, name: str, params: Mapping[str, Any], key: str) -> AnsibleResult:
        action = self._action(name)
        values = _typed(check_values(name, action.params, params), action)
        return self._run(action, action.playbook, {**values, "arf_idempotency_key": key}, False)

    def rollback(
        self, name: str, params: Mapping[str, Any], pre: Mapping[str, Any], key: str
    ) -> AnsibleResult | None:
        action = self._action(name)
        if action.rollback_playbook is None:
            return None  # declared: nothing to undo
        values = _typed(check_values(name, action.params, params), action)
        extravars = {**values, "arf_pre": dict(pre), "arf_idempotency_key": f"{key}/rollback"}
        return self._run(action, action.rollback_playbook, extravars, False)


def _typed(values: Mapping[str, str], action: AnsibleAction) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    for name, text in values.items():
        kind = action.params[name].type
        typed[name] = (
            int(text) if kind == "integer" else (text == "true" if kind == "boolean" else text)
        )
    return typed
