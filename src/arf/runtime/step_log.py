"""Execution records of a plan's steps, and the settling of a step found in doubt.

Each record (started, succeeded, skipped, failed, in doubt, diverged) is written with its
`execution.step` ledger entry in a transaction of its own, between two checkpoints the crash
tests stop at. A step started but with no recorded outcome is settled by reading the target's
real state (`Executor.reconcile`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from arf.core.records import ExecutionRecord, PlanStep, StepKind, StepStatus
from arf.execution.executor import Reconciliation
from arf.ledger import chain
from arf.runtime.container import Runtime

Checkpoint = Callable[[str], None]


def no_checkpoint(_name: str) -> None:
    return None


@dataclass(frozen=True)
class StepRef:
    """One step of one plan, forward or backward, and its idempotency key."""

    incident_id: str
    plan_hash: str
    index: int
    kind: StepKind
    step: PlanStep
    key: str


class StepLog:
    def __init__(self, runtime: Runtime, checkpoint: Checkpoint = no_checkpoint) -> None:
        self._rt = runtime
        self._checkpoint = checkpoint

    def record(
        self, ref: StepRef, status: StepStatus, pre_state: Mapping[str, JsonValue], detail: str
    ) -> None:
        record = ExecutionRecord(
            execution_id=self._rt.ids.new("exe"),
            incident_id=ref.incident_id,
            plan_hash=ref.plan_hash,
            step_index=ref.index,
            kind=ref.kind,
            action=ref.step.action,
            target=ref.step.target,
            params=dict(ref.step.params),
            idempotency_key=ref.key,
            pre_state=dict(pre_state),
            status=status,
            detail=detail[:2000],
            at=self._rt.clock.now(),
        )
        self._checkpoint(f"before-record:{ref.kind.value}:{status.value}")
        with self._rt.store.unit_of_work() as uow:
            uow.put_execution(record)
            chain.append(
                uow,
                "execution.step",
                ref.incident_id,
                {
                    "execution_id": record.execution_id,
                    "plan_hash": ref.plan_hash,
                    "step_index": ref.index,
                    "kind": ref.kind.value,
                    "action": ref.step.action,
                    "target": ref.step.target,
                    "status": status.value,
                    "idempotency_key": ref.key,
                    "detail": record.detail,
                },
                self._rt.clock.now(),
            )
        self._checkpoint(f"after-record:{ref.kind.value}:{status.value}")

    def settle(self, ref: StepRef, pre_state: Mapping[str, JsonValue]) -> Reconciliation:
        """A step was started and its outcome never recorded (the process stopped): record it
        as in doubt, then read the target's real state. An applied step is recorded as done
        without being sent again; a diverged one (changed by something else) as such, and is
        never touched again; the rest is sent again under the same idempotency key."""
        self.record(
            ref,
            StepStatus.IN_DOUBT,
            pre_state,
            "the process stopped before this step's outcome was recorded: reconciling",
        )
        found, why = self._rt.executor.reconcile(ref.step, pre_state, ref.kind)
        if found is Reconciliation.APPLIED:
            self.record(ref, StepStatus.SUCCEEDED, pre_state, f"reconciled: {why}")
        elif found is Reconciliation.DIVERGED:
            self.record(ref, StepStatus.DIVERGED, pre_state, f"reconciled: {why}")
        return found
