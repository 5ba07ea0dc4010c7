"""The action catalog: every action ARF may ever take, with its declared rollback.

An action translates a plan step plus the target's captured pre-state into platform operations,
and the same pre-state into the operations that undo it. Nothing outside this catalog executes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from arf.core.errors import ConfigError
from arf.core.records import (
    ActionParam,
    ActionSpec,
    BlastRadius,
    PlanStep,
    RiskClass,
)

State = Mapping[str, JsonValue]
Operation = tuple[str, dict[str, JsonValue]]

# Curated IaC fixes: check id -> (attribute, safe value). Checked by re-scan after applying.
IAC_FIXES: Mapping[str, tuple[str, JsonValue]] = {
    "CKV_AWS_20": ("acl", "private"),
    "CKV_AWS_19": ("server_side_encryption", "aws:kms"),
    "CKV_AWS_21": ("versioning", True),
    "CKV_AWS_24": ("ssh_ingress_cidr", "10.0.0.0/8"),
}


def _str_list(value: JsonValue) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _as_int(value: JsonValue, default: int) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class Effect:
    """What an action changes, as the target's description shows it: `read` picks the value out
    of a description, `after` is the value the forward step leaves, given the step and the
    pre-state. Reconciliation after a crash compares the target's real state with both."""

    read: Callable[[PlanStep, State], JsonValue]
    after: Callable[[PlanStep, State], JsonValue]


@dataclass(frozen=True)
class ActionDefinition:
    spec: ActionSpec
    preconditions: Callable[[PlanStep, State], list[str]]
    forward: Callable[[PlanStep, State], list[Operation]]
    backward: Callable[[PlanStep, State], list[Operation]]
    # How the action takes capacity out: "rolling" (one replica at a time), "whole" (every
    # replica at once) or "none" (changes no running replica, e.g. an IaC file).
    disruption: str = "rolling"
    # None: the effect leaves no trace a description shows (a restart, a failover); an action
    # in doubt is then re-sent under its idempotency key, which the platform deduplicates.
    effect: Effect | None = None

    def blast_radius(self, step: PlanStep, state: State | None) -> BlastRadius:
        """Sized against the target's real state: replicas touched and the largest share of
        its capacity out at once. An unknown replica count counts as one (the worst share)."""
        replicas = max(1, _as_int((state or {}).get("replicas"), 1))
        share = {"rolling": 1 / replicas, "whole": 1.0, "none": 0.0}[self.disruption]
        touched = 0 if self.disruption == "none" else replicas
        return BlastRadius(services=1, resources=1, replicas=touched, replica_share=round(share, 4))


# ------------------------------------------------------------------ rollback_deploy
def _deploy_pre(step: PlanStep, state: State) -> list[str]:
    wanted = step.params.get("to_version")
    history = _str_list(state.get("release_history"))
    problems = []
    if wanted not in history[:-1]:
        problems.append(f"{wanted!r} is not an earlier release of {step.target}")
    if state.get("version") == wanted:
        problems.append(f"{step.target} already runs {wanted!r}")
    return problems


def _deploy_fwd(step: PlanStep, state: State) -> list[Operation]:
    return [("deploy", {"version": step.params["to_version"]})]


def _deploy_back(step: PlanStep, state: State) -> list[Operation]:
    return [("deploy", {"version": state.get("version")})]


DEPLOY_EFFECT = Effect(
    read=lambda step, state: state.get("version"),
    after=lambda step, state: step.params.get("to_version"),
)


# ------------------------------------------------------------------ revert_config
def _config_pre(step: PlanStep, state: State) -> list[str]:
    key = str(step.params.get("key"))
    history = state.get("config_history")
    values = _str_list(history.get(key) if isinstance(history, dict) else None)
    config = state.get("config")
    current = config.get(key) if isinstance(config, dict) else None
    wanted = step.params.get("to_value")
    if not values:
        return [f"{step.target} has no configuration key {key!r}"]
    if wanted not in values[:-1]:
        return [f"{wanted!r} was never a value of {key!r} on {step.target}: not a revert"]
    if str(current) == wanted:
        return [f"{key!r} on {step.target} is already {wanted!r}"]
    return []


def _config_fwd(step: PlanStep, state: State) -> list[Operation]:
    return [("set_config", {"key": step.params["key"], "value": step.params["to_value"]})]


def _config_value(step: PlanStep, state: State) -> JsonValue:
    config = state.get("config")
    value = config.get(str(step.params.get("key"))) if isinstance(config, dict) else None
    return None if value is None else str(value)


def _config_back(step: PlanStep, state: State) -> list[Operation]:
    return [("set_config", {"key": step.params["key"], "value": str(_config_value(step, state))})]


CONFIG_EFFECT = Effect(read=_config_value, after=lambda step, state: step.params.get("to_value"))


# ------------------------------------------------------------------ increase_memory_limit
MAX_MEMORY_MB = 8192


def _memory_target(step: PlanStep, state: State) -> int:
    factor = step.params.get("factor", 2.0)
    current = _as_int(state.get("memory_limit_mb"), 0)
    ratio = float(factor) if isinstance(factor, int | float) else 0.0
    return int(current * ratio)


def _memory_pre(step: PlanStep, state: State) -> list[str]:
    if _as_int(state.get("memory_limit_mb"), 0) <= 0:
        return [f"{step.target} has no memory limit to raise"]
    if _memory_target(step, state) > MAX_MEMORY_MB:
        return [f"the new limit would exceed {MAX_MEMORY_MB} MiB"]
    return []


def _memory_fwd(step: PlanStep, state: State) -> list[Operation]:
    return [("set_memory_limit", {"memory_mb": _memory_target(step, state)})]


def _memory_back(step: PlanStep, state: State) -> list[Operation]:
    return [("set_memory_limit", {"memory_mb": state.get("memory_limit_mb")})]


MEMORY_EFFECT = Effect(read=lambda step, state: state.get("memory_limit_mb"), after=_memory_target)


# ------------------------------------------------------------------ restart / failover
def _exists_pre(step: PlanStep, state: State) -> list[str]:
    return (
        []
        if state.get("kind") in ("service", "datastore")
        else [f"{step.target} is not a running service"]
    )


def _restart_fwd(step: PlanStep, state: State) -> list[Operation]:
    return [("restart", {})]


# ------------------------------------------------------------------ scale_service
MAX_REPLICAS = 50


def _scale_pre(step: PlanStep, state: State) -> list[str]:
    wanted = step.params.get("replicas")
    current = _as_int(state.get("replicas"), -1)
    if state.get("kind") not in ("service", "datastore") or current < 0:
        return [f"{step.target} is not a scalable service"]
    if not isinstance(wanted, int) or isinstance(wanted, bool):
        return ["replicas must be an integer"]
    if wanted <= current:
        return [f"{step.target} already runs {current} replicas: scaling down is no remedy"]
    if wanted > MAX_REPLICAS:
        return [f"more than {MAX_REPLICAS} replicas"]
    return []


def _scale_fwd(step: PlanStep, state: State) -> list[Operation]:
    return [("scale", {"replicas": step.params["replicas"]})]


def _scale_back(step: PlanStep, state: State) -> list[Operation]:
    return [("scale", {"replicas": _as_int(state.get("replicas"), 0)})]


SCALE_EFFECT = Effect(
    read=lambda step, state: state.get("replicas"),
    after=lambda step, state: step.params.get("replicas"),
)


def _nothing(step: PlanStep, state: State) -> list[Operation]:
    return []


def _failover_pre(step: PlanStep, state: State) -> list[str]:
    if state.get("kind") != "datastore":
        return [f"{step.target} is not a datastore"]
    if not state.get("has_replica"):
        return [f"{step.target} has no replica to fail over to"]
    return []


def _failover_fwd(step: PlanStep, state: State) -> list[Operation]:
    return [("failover", {})]


# ------------------------------------------------------------------ apply_iac_patch
def _iac_pre(step: PlanStep, state: State) -> list[str]:
    check = str(step.params.get("check_id"))
    if check not in IAC_FIXES:
        return [f"no curated fix for {check}"]
    if state.get("kind") != "resource":
        return [f"{step.target} is not an IaC resource"]
    attribute, value = IAC_FIXES[check]
    attributes = state.get("attributes")
    if isinstance(attributes, dict) and attributes.get(attribute) == value:
        return [f"{step.target} already has {attribute}={value!r}"]
    failing = state.get("failing")  # a platform that scans (a Git repository) says what fails
    if isinstance(failing, list) and check not in failing:
        return [f"{check} does not fail on {step.target} now"]
    return []


def _iac_fwd(step: PlanStep, state: State) -> list[Operation]:
    check = str(step.params["check_id"])
    attribute, value = IAC_FIXES[check]
    return [("set_attribute", {"attribute": attribute, "value": value, "check_id": check})]


def _iac_fixed(step: PlanStep, state: State) -> JsonValue:
    """Whether the targeted check is fixed: by the platform's scan where it scans (a Git
    repository lists the failing checks), else by the fixed attribute's value."""
    check = str(step.params.get("check_id"))
    failing = state.get("failing")
    if isinstance(failing, list):
        return check not in failing
    attribute, value = IAC_FIXES.get(check, ("", None))
    attributes = state.get("attributes")
    return isinstance(attributes, dict) and attributes.get(attribute) == value


IAC_EFFECT = Effect(read=_iac_fixed, after=lambda step, state: True)


def _iac_back(step: PlanStep, state: State) -> list[Operation]:
    check = str(step.params["check_id"])
    attribute, _ = IAC_FIXES[check]
    attributes = state.get("attributes")
    before = attributes.get(attribute) if isinstance(attributes, dict) else None
    # `revert`: a platform that keeps history (a Git repository) undoes the fix it made
    return [
        (
            "set_attribute",
            {"attribute": attribute, "value": before, "check_id": check, "revert": True},
        )
    ]


def _spec(
    name: str,
    description: str,
    target_kind: str,
    risk: RiskClass,
    reversible: bool,
    rollback: str,
    verification: str,
    params: Sequence[ActionParam] = (),
    security_sensitive: bool = False,
    permissions: Sequence[str] = (),
) -> ActionSpec:
    return ActionSpec(
        name=name,
        description=description,
        target_kind=target_kind,
        risk_class=risk,
        reversible=reversible,
        rollback=rollback,
        params=tuple(params),
        security_sensitive=security_sensitive,
        permissions=tuple(permissions),
        verification=verification,
    )


def default_actions() -> list[ActionDefinition]:
    """The actions ARF ships with, for service platforms and IaC resources."""
    return [
        ActionDefinition(
            _spec(
                "rollback_deploy",
                "Deploy an earlier release of a service (rollout undo).",
                "service",
                RiskClass.LOW,
                True,
                "re-deploy the release that was replaced",
                "service_health",
                [
                    ActionParam(
                        name="to_version",
                        type="string",
                        description="an earlier release of the service",
                    )
                ],
                permissions=["deployments:update"],
            ),
            _deploy_pre,
            _deploy_fwd,
            _deploy_back,
            effect=DEPLOY_EFFECT,
        ),
        ActionDefinition(
            _spec(
                "revert_config",
                "Set one configuration key back to an earlier value.",
                "service",
                RiskClass.LOW,
                True,
                "restore the value the key had before the revert",
                "service_health",
                [
                    ActionParam(name="key", type="string"),
                    ActionParam(
                        name="to_value",
                        type="string",
                        description="must be an earlier value of the key",
                    ),
                ],
                permissions=["config:update"],
            ),
            _config_pre,
            _config_fwd,
            _config_back,
            effect=CONFIG_EFFECT,
        ),
        ActionDefinition(
            _spec(
                "increase_memory_limit",
                "Raise a service's memory limit by a bounded factor.",
                "service",
                RiskClass.LOW,
                True,
                "restore the previous memory limit",
                "service_health",
                [ActionParam(name="factor", type="number", minimum=1.1, maximum=2.0)],
                permissions=["deployments:update"],
            ),
            _memory_pre,
            _memory_fwd,
            _memory_back,
            effect=MEMORY_EFFECT,
        ),
        ActionDefinition(
            _spec(
                "restart_service",
                "Restart a service's processes (rolling).",
                "service",
                RiskClass.LOW,
                True,
                "none needed: a restart changes no configuration",
                "service_health",
                permissions=["deployments:restart"],
            ),
            _exists_pre,
            _restart_fwd,
            _nothing,
        ),
        ActionDefinition(
            _spec(
                "scale_service",
                "Scale a service up to a replica count (restores capacity; never scales down).",
                "service",
                RiskClass.LOW,
                True,
                "scale back to the replica count it had before",
                "service_health",
                [ActionParam(name="replicas", type="integer", minimum=1, maximum=MAX_REPLICAS)],
                permissions=["deployments:scale"],
            ),
            _scale_pre,
            _scale_fwd,
            _scale_back,
            disruption="none",
            effect=SCALE_EFFECT,
        ),
        ActionDefinition(
            _spec(
                "failover_database",
                "Promote the replica of a datastore to primary.",
                "service",
                RiskClass.HIGH,
                False,
                "irreversible: the old primary must be rebuilt by a person",
                "service_health",
                permissions=["datastores:failover"],
            ),
            _failover_pre,
            _failover_fwd,
            _nothing,
        ),
        ActionDefinition(
            _spec(
                "apply_iac_patch",
                "Apply a curated fix for one failed scanner check to an IaC resource.",
                "resource",
                RiskClass.LOW,
                True,
                "revert the patch",
                "scan_clean",
                [ActionParam(name="check_id", type="string", choices=tuple(sorted(IAC_FIXES)))],
                permissions=["iac:write"],
            ),
            _iac_pre,
            _iac_fwd,
            _iac_back,
            disruption="none",
            effect=IAC_EFFECT,
        ),
    ]


class ActionCatalog:
    """A registry instance built by the composition root (never an import-time global)."""

    def __init__(self, actions: Sequence[ActionDefinition]) -> None:
        self._actions: dict[str, ActionDefinition] = {}
        for action in actions:
            if action.disruption not in ("rolling", "whole", "none"):
                raise ConfigError(f"action {action.spec.name!r}: unknown disruption")
            if action.spec.name in self._actions:
                raise ConfigError(f"action {action.spec.name!r} is registered twice")
            if not action.spec.rollback:
                raise ConfigError(f"action {action.spec.name!r} declares no rollback")
            self._actions[action.spec.name] = action

    def specs(self) -> tuple[ActionSpec, ...]:
        return tuple(a.spec for a in self._actions.values())

    def get(self, name: str) -> ActionDefinition | None:
        return self._actions.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._actions
