"""Replay and learning over recorded decisions and outcomes (pure; the runtime feeds them).

- `replay`: `arf policy simulate`: each stored decision's recorded policy input routed again
  under a candidate policy; what would change. Decisions store the whole input (history, risk
  score, controls included), so replaying under the policy that made them changes nothing.
- `suggest`: `arf policy suggest`: proposals from verified outcomes, never applied by ARF.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arf.core.records import ActionRun, Autonomy, DecisionEnvelope, Route
from arf.governance.policy import ROUTE_FOR_EFFECT, PolicyBundle, route
from arf.governance.schema import deep_merge, missing_paths, neutral_input
from arf.governance.service_catalog import ServiceCatalog


@dataclass(frozen=True)
class Replayed:
    decision_id: str
    incident_id: str
    decided_at: datetime
    recorded: str  # route recorded, "+shadow" when shadowed
    replayed: str
    rules: tuple[str, ...]  # rules that decided the replayed route
    filled: tuple[str, ...]  # fields the recorded input lacked (older ARF), set to neutral

    @property
    def changed(self) -> bool:
        return self.recorded != self.replayed


def _label(chosen: Route, shadow: bool) -> str:
    return chosen.value + ("+shadow" if shadow else "")


def replay(decisions: Sequence[DecisionEnvelope], bundle: PolicyBundle) -> list[Replayed]:
    found = []
    for decision in decisions:
        raw = decision.policy_input.get("steps")
        steps: list[dict[str, Any]] = []
        filled: set[str] = set()
        for item in raw if isinstance(raw, list) else []:
            if isinstance(item, dict):
                filled.update(missing_paths(item))
                steps.append(deep_merge(neutral_input(), item))
        routing = route(bundle, steps)
        chosen = ROUTE_FOR_EFFECT[routing.effect]
        deciding = tuple(
            dict.fromkeys(m.rule_id for m in routing.matched if m.effect is routing.effect)
        )
        found.append(
            Replayed(
                decision_id=decision.decision_id,
                incident_id=decision.incident_id,
                decided_at=decision.decided_at,
                recorded=_label(decision.route, decision.shadow),
                replayed=_label(chosen, routing.shadow),
                rules=deciding,
                filled=tuple(sorted(filled)),
            )
        )
    return found


@dataclass(frozen=True)
class Suggestion:
    service: str
    action: str
    proposal: str  # autonomous | approve
    evidence: str
    snippet: str  # the service catalog change that would apply it


def suggest(
    runs: Sequence[ActionRun],
    catalog: ServiceCatalog,
    *,
    min_verified: int = 20,
    min_runs: int = 5,
    max_failure_rate: float = 0.3,
) -> list[Suggestion]:
    """Proposals per (service, action) from finished runs:

    - verified at least `min_verified` times under acknowledgement or approval and never
      failed: propose granting autonomy for that action;
    - at least `min_runs` finished runs with over `max_failure_rate` failing (rolled back or
      failed) while it may run without approval: propose requiring approval.
    """
    groups: dict[tuple[str, str], list[ActionRun]] = defaultdict(list)
    for run in runs:
        if run.outcome != "in_progress":
            groups[(run.target, run.action)].append(run)
    proposals = []
    for (service, action), items in sorted(groups.items()):
        info = catalog.service(service)
        granted = info.autonomy_for(action) if info else Autonomy.APPROVE
        failed = [r for r in items if r.outcome != "verified"]
        human = [
            r
            for r in items
            if r.route in (Route.ACKNOWLEDGE, Route.APPROVE) and r.outcome == "verified"
        ]
        if not failed and len(human) >= min_verified:
            proposals.append(
                Suggestion(
                    service=service,
                    action=action,
                    proposal=Autonomy.AUTONOMOUS.value,
                    evidence=f"verified {len(human)} of {len(human)} times under"
                    " acknowledgement or approval, never rolled back",
                    snippet=f"{service}: autonomy_by_action: {{{action}: autonomous}}"
                    " (and check which rule routed it to a person)",
                )
            )
        elif (
            len(items) >= min_runs
            and len(failed) / len(items) > max_failure_rate
            and granted in (Autonomy.AUTONOMOUS, Autonomy.ACKNOWLEDGE)
        ):
            proposals.append(
                Suggestion(
                    service=service,
                    action=action,
                    proposal=Autonomy.APPROVE.value,
                    evidence=f"failed verification or was rolled back {len(failed)} of"
                    f" {len(items)} times",
                    snippet=f"{service}: autonomy_by_action: {{{action}: approve}}",
                )
            )
    return proposals
