"""The executor: runs exactly the decided plan, step by step, with idempotency keys.

Before anything runs it checks that the plan's hash is the decided one (and the approved one),
and re-checks preconditions and the blast radius against the target's real state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from pydantic import JsonValue

from arf.core.errors import ExecutionError, IntegrityError
from arf.core.ports import TargetDriver
from arf.core.records import (
    Approval,
    BlastRadius,
    DecisionEnvelope,
    PlanStep,
    RemediationPlan,
    StepKind,
    Verdict,
)
from arf.execution.action_packs import ActionCatalog, ActionDefinition, Effect
from arf.execution.transports import Transports


class Reconciliation(StrEnum):
    """What the target's real state says about a step whose outcome was never recorded."""

    APPLIED = "applied"  # the target shows the step's effect: it happened, do not repeat it
    NOT_APPLIED = "not_applied"  # the target is as it was before the step: run it
    UNKNOWN = "unknown"  # the effect leaves no trace: re-send under the same idempotency key
    DIVERGED = "diverged"  # the target shows neither: something else changed it meanwhile


class Executor:
    def __init__(
        self, catalog: ActionCatalog, driver: TargetDriver, transports: Transports | None = None
    ) -> None:
        self._catalog = catalog
        self._driver = driver
        self._transports = transports if transports is not None else Transports()

    def _definition(self, step: PlanStep) -> ActionDefinition:
        definition = self._catalog.get(step.action)
        if definition is None:
            raise ExecutionError(f"action {step.action!r} is not in the catalog")
        return definition

    def estimate(self, steps: Sequence[PlanStep]) -> BlastRadius:
        """Blast radius of a plan against the targets as they are now."""
        services: set[str] = set()
        resources = 0
        replicas = 0
        share = 0.0
        for step in steps:
            radius = self._definition(step).blast_radius(step, self._driver.describe(step.target))
            services.add(step.target)
            resources += radius.resources
            replicas += radius.replicas
            share = max(share, radius.replica_share)
        return BlastRadius(
            services=len(services), resources=resources, replicas=replicas, replica_share=share
        )

    def check_integrity(
        self,
        plan: RemediationPlan,
        decision: DecisionEnvelope,
        approvals: Sequence[Approval],
    ) -> None:
        """Refuse a plan that is not byte-for-byte the decided (and approved) one."""
        actual = plan.plan_hash()
        if actual != decision.plan_hash:
            raise IntegrityError(
                f"plan {plan.plan_id} hashes to {actual[:12]}, but the decision was made for"
                f" {decision.plan_hash[:12]}: the plan changed after its decision"
            )
        for approval in approvals:
            if approval.verdict is Verdict.APPROVE and approval.plan_hash != actual:
                raise IntegrityError(
                    f"approval {approval.approval_id} is for plan {approval.plan_hash[:12]},"
                    f" not {actual[:12]}"
                )
        radius = self.estimate(plan.steps)
        if radius.resources > decision.max_resources:
            raise IntegrityError(
                f"the plan would change {radius.resources} resources, over the decided limit"
                f" of {decision.max_resources}"
            )
        if radius.replica_share > decision.max_replica_share:
            raise IntegrityError(
                f"the plan would take {radius.replica_share:.0%} of a target's capacity out at"
                f" once, over the decided limit of {decision.max_replica_share:.0%}"
            )

    def preflight(self, steps: Sequence[PlanStep]) -> list[str]:
        """Why the plan cannot run on its targets as they are now (empty: it can), checked
        before anyone is asked to approve it. A step whose target an earlier step changes is
        checked when it runs, against the state that step leaves; a step whose effect the
        target already shows is not refused (it is skipped when the plan runs)."""
        problems: list[str] = []
        touched: set[str] = set()
        for step in steps:
            if step.target in touched:
                continue
            touched.add(step.target)
            if self.already_done(step) is not None:
                continue
            try:
                state = self._driver.describe(step.target)
            except ExecutionError as exc:
                problems.append(f"{step.target} could not be read: {exc}")
                continue
            if state is None:
                problems.append(f"target {step.target!r} does not exist")
                continue
            found = self._definition(step).preconditions(step, state)
            problems.extend(f"{step.action} on {step.target}: {p}" for p in found)
        return problems

    def capture(self, step: PlanStep) -> dict[str, JsonValue]:
        """The pre-state needed to roll the step back; checks the step's preconditions."""
        state = self._driver.describe(step.target)
        if state is None:
            raise ExecutionError(f"target {step.target!r} does not exist")
        problems = self._definition(step).preconditions(step, state)
        if problems:
            raise ExecutionError(f"{step.action} on {step.target}: " + "; ".join(problems))
        return dict(state)

    def already_done(self, step: PlanStep) -> str | None:
        """Why the target already shows what `step` would leave (nothing to send), or None.

        Only an action with a declared effect can tell, and only when that effect, computed
        from the target's state now, is the value the target already shows: setting a key to
        the value it has, deploying the release that runs. A relative change (double the
        memory limit) is never already done.
        """
        observed = self._observe(step)
        if isinstance(observed, str):
            return None
        effect, now = observed
        seen = effect.read(step, now)
        if seen is None or seen != effect.after(step, now):
            return None
        return f"{step.target} already shows {seen!r}, what {step.action} would leave"

    def _observe(self, step: PlanStep) -> tuple[Effect, Mapping[str, JsonValue]] | str:
        """The action's declared effect and the target's state now, or why there is none."""
        effect = self._definition(step).effect
        if effect is None:
            return f"{step.action} leaves no trace {step.target} shows"
        try:
            now = self._driver.describe(step.target)
        except ExecutionError as exc:
            return f"{step.target} could not be read: {exc}"
        if now is None:
            return f"{step.target} could not be found"
        return effect, now

    def _perform(
        self, step: PlanStep, operations: list[tuple[str, dict[str, JsonValue]]], key: str
    ) -> str:
        details = []
        for index, (operation, args) in enumerate(operations):
            transport = self._transports.get(operation)
            result: Mapping[str, JsonValue]
            if transport is not None:
                result = transport.send(args, f"{key}/{index}")
            else:
                result = self._driver.perform(operation, step.target, args, f"{key}/{index}")
            details.append(f"{operation}{_brief(args)} -> {_brief(result)}")
        return "; ".join(details) or "nothing to do"

    def run_step(self, step: PlanStep, pre_state: Mapping[str, JsonValue], key: str) -> str:
        operations = self._definition(step).forward(step, pre_state)
        return self._perform(step, operations, key)

    def rollback_step(self, step: PlanStep, pre_state: Mapping[str, JsonValue], key: str) -> str:
        operations = self._definition(step).backward(step, pre_state)
        return self._perform(step, operations, key)

    def reconcile(
        self, step: PlanStep, pre_state: Mapping[str, JsonValue], kind: StepKind
    ) -> tuple[Reconciliation, str]:
        """Read the target's real state to settle a step in doubt (started, outcome unknown).

        A forward step is applied when the target shows the value the step leaves, a rollback
        when it shows the pre-state's value again; the other of the two means it did not
        happen. A platform that cannot describe the target settles nothing.
        """
        observed = self._observe(step)
        if isinstance(observed, str):
            return Reconciliation.UNKNOWN, observed
        effect, now = observed
        before, after = effect.read(step, pre_state), effect.after(step, pre_state)
        goal, start = (after, before) if kind is StepKind.FORWARD else (before, after)
        seen = effect.read(step, now)
        if seen is None and goal is not None and start is not None:
            return (
                Reconciliation.UNKNOWN,
                f"{step.target} does not show what {step.action} changes (the effect reads"
                " nothing)",
            )
        if seen == goal:
            return Reconciliation.APPLIED, f"{step.target} shows {seen!r}: the step took effect"
        if seen == start:
            return Reconciliation.NOT_APPLIED, f"{step.target} still shows {seen!r}: not applied"
        return (
            Reconciliation.DIVERGED,
            f"{step.target} shows {seen!r}, neither {start!r} before nor {goal!r} after the step:"
            " something else changed it",
        )


def _brief(value: Mapping[str, JsonValue]) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in sorted(value.items())) + ")"
