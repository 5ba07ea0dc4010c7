"""Operator-facing governance operations: the kill switch, shadow mode, policy tests, replay
of stored decisions under a candidate policy, suggestions from recorded outcomes and the
confidence calibration they give."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path

from arf.core.errors import AuthError, InputError
from arf.core.records import ActionSpec, Controls
from arf.governance.calibration import (
    CalibrationRow,
    CalibrationRules,
    calibration_table,
    plan_outcomes,
)
from arf.governance.lint import Finding, lint_text
from arf.governance.policy import PolicyBundle, load_policy
from arf.governance.policy_tests import TestReport, find_suite, load_cases, run_cases
from arf.governance.replay import Replayed, Suggestion, replay, suggest
from arf.ledger import chain
from arf.oversight.identities import Identity
from arf.runtime.container import Runtime, packaged_policy
from arf.runtime.history import RunHistory

# Stopping is always safe, so anyone authenticated may pull the kill switch; undoing it (or
# leaving shadow mode) needs one of these roles.
CONTROL_ROLES = frozenset({"operator", "sre"})


def get_controls(runtime: Runtime) -> Controls:
    with runtime.store.unit_of_work() as uow:
        return uow.get_controls()


@dataclass(frozen=True)
class ControlChange:
    stop: bool | None = None  # True: pull the kill switch; False: release it
    service: str | None = None  # only this service (else global)
    shadow: bool | None = None
    reason: str = ""


def change_controls(runtime: Runtime, identity: Identity, change: ControlChange) -> Controls:
    if not change.reason.strip():
        raise InputError("say why: a control change needs a reason (--reason)")
    loosening = change.stop is False or change.shadow is False
    if loosening and not identity.roles & CONTROL_ROLES:
        raise AuthError(
            f"{identity.name} may stop execution but not resume it or leave shadow mode"
            f" (needs one of the roles {', '.join(sorted(CONTROL_ROLES))})"
        )
    if change.service is not None and runtime.services.service(change.service) is None:
        raise InputError(f"no service {change.service!r} in the service catalog")
    now = runtime.clock.now()
    with runtime.store.unit_of_work() as uow:
        current = uow.get_controls()
        update: dict[str, object] = {
            "reason": change.reason[:2000],
            "changed_by": identity.name,
            "changed_at": now,
        }
        if change.stop is not None and change.service is None:
            update["stopped"] = change.stop
            if change.stop is False:
                update["stopped_services"] = ()
        elif change.stop is not None and change.service is not None:
            names = set(current.stopped_services)
            if change.stop:
                names.add(change.service)
            else:
                names.discard(change.service)
            update["stopped_services"] = tuple(sorted(names))
        if change.shadow is not None:
            update["shadow"] = change.shadow
        changed = current.model_copy(update=update)
        uow.put_controls(changed)
        chain.append(uow, "controls.changed", None, changed, now)
    return changed


def policy_suite(directory: Path | None) -> tuple[PolicyBundle, TestReport]:
    """Run the table tests in DIR, or the default pack's own when DIR is None."""
    if directory is None:
        bundle = packaged_policy()
        name = "default_policy.cases.yaml"
        text = resources.files("arf.governance").joinpath(name).read_text("utf-8")
        return bundle, run_cases(bundle, load_cases(text, f"arf/governance/{name}"))
    policy_path, case_paths = find_suite(directory)
    bundle = load_policy(policy_path)
    cases = []
    for path in case_paths:
        cases.extend(load_cases(path.read_text("utf-8"), str(path)))
    return bundle, run_cases(bundle, cases)


def lint_policy(path: Path | None, actions: Sequence[ActionSpec] = ()) -> list[Finding]:
    """The policy's findings; with `actions`, also the actions no rule covers (warnings)."""
    if path is None:
        name = "default_policy.yaml"
        text = resources.files("arf.governance").joinpath(name).read_text("utf-8")
        return lint_text(text, f"arf/governance/{name}", actions=actions)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read policy file {path}: {exc.strerror}") from exc
    return lint_text(text, str(path), actions=actions)


def simulate(runtime: Runtime, window: timedelta, candidate: Path) -> list[Replayed]:
    bundle = load_policy(candidate)
    with runtime.store.unit_of_work() as uow:
        decisions = uow.decisions_since(runtime.clock.now() - window)
    return replay(decisions, bundle)


def suggestions(runtime: Runtime, window: timedelta) -> list[Suggestion]:
    runs = RunHistory(runtime.store, window).runs(runtime.clock.now())
    return suggest(runs, runtime.services)


def calibration(runtime: Runtime) -> tuple[CalibrationRules, list[CalibrationRow]]:
    """The configured policy's calibration settings and what they make of recorded outcomes."""
    rules = runtime.policy.calibration
    window = timedelta(days=rules.window_days)
    now = runtime.clock.now()
    runs = RunHistory(runtime.store, window).runs(now)
    return rules, calibration_table(plan_outcomes(runs, "", now, window), rules)
