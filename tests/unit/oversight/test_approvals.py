from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from arf.core.errors import AuthError, ConfigError
from arf.core.records import Approval, BlastRadius, DecisionEnvelope, Route, Verdict
from arf.oversight.approvals import check_approval, missing_roles, quorum_met, repeats_request
from arf.oversight.identities import SYSTEM_IDENTITY, Identity, IdentityDirectory, hash_token

AT = datetime(2026, 1, 1, tzinfo=UTC)
PLAN = "a" * 64


def decision(quorum: int = 1) -> DecisionEnvelope:
    return DecisionEnvelope(
        decision_id="dec-1",
        incident_id="INC-1",
        plan_id="p1",
        plan_hash=PLAN,
        policy_version="v",
        matched_rules=(),
        risk_score=0.8,
        risk_factors=(),
        route=Route.APPROVE,
        required_roles=("approver",),
        quorum=quorum,
        blast_radius=BlastRadius(services=1, resources=1, replicas=1),
        max_resources=5,
        decided_at=AT,
        expires_at=AT + timedelta(hours=1),
    )


def approval(who: str, verdict: Verdict = Verdict.APPROVE, plan: str = PLAN) -> Approval:
    return Approval(
        approval_id=f"apr-{who}",
        incident_id="INC-1",
        decision_id="dec-1",
        plan_hash=plan,
        approver=who,
        roles=("approver",),
        verdict=verdict,
        at=AT,
    )


ALICE = Identity("alice", frozenset({"approver"}))
BOB = Identity("bob", frozenset({"approver"}))


def test_a_valid_approval_passes() -> None:
    assert check_approval(decision(), [], ALICE, PLAN, AT) is None


def test_refusals() -> None:
    d = decision()
    system = Identity(SYSTEM_IDENTITY, frozenset({"approver"}))
    assert "own identity" in (check_approval(d, [], system, PLAN, AT) or "")
    assert "requested this" in (check_approval(d, [], ALICE, PLAN, AT, requested_by="alice") or "")
    assert "plan hash mismatch" in (check_approval(d, [], ALICE, "b" * 64, AT) or "")
    assert "expired" in (check_approval(d, [], ALICE, PLAN, AT + timedelta(hours=2)) or "")
    viewer = Identity("carol", frozenset({"viewer"}))
    assert "lacks a required role" in (check_approval(d, [], viewer, PLAN, AT) or "")
    assert "replayed" in (check_approval(d, [approval("alice")], ALICE, PLAN, AT) or "")


def test_quorum_counts_people_not_clicks() -> None:
    d = decision(quorum=2)
    assert not quorum_met(d, [approval("alice"), approval("alice")])
    assert quorum_met(d, [approval("alice"), approval("bob")])
    assert not quorum_met(d, [approval("alice"), approval("bob", plan="c" * 64)])


def test_identities_authenticate_by_hashed_token(tmp_path: Path) -> None:
    path = tmp_path / "ids.yaml"
    path.write_text(
        f"identities:\n  - name: alice\n    roles: [approver]\n"
        f"    token_sha256: {hash_token('s3cret')}\n"
    )
    directory = IdentityDirectory.from_file(path)
    assert directory.authenticate("s3cret").name == "alice"
    with pytest.raises(AuthError):
        directory.authenticate("wrong")
    with pytest.raises(AuthError):
        directory.authenticate("")
    assert "s3cret" not in path.read_text()


def test_the_system_identity_cannot_be_configured(tmp_path: Path) -> None:
    path = tmp_path / "ids.yaml"
    path.write_text(
        f"identities:\n  - name: {SYSTEM_IDENTITY}\n    roles: [approver]\n"
        f"    token_sha256: {hash_token('x')}\n"
    )
    with pytest.raises(ConfigError, match="reserved"):
        IdentityDirectory.from_file(path)


def approval_by(who: str, roles: tuple[str, ...], decision_id: str = "dec-1") -> Approval:
    return Approval(
        approval_id=f"apr-{who}",
        incident_id="INC-1",
        decision_id=decision_id,
        plan_hash=PLAN,
        approver=who,
        roles=roles,
        verdict=Verdict.APPROVE,
        at=AT,
    )


def test_an_approval_needs_every_required_role_between_the_approvers() -> None:
    d = decision().model_copy(update={"required_roles": ("approver", "security")})
    two_approvers = [approval_by("alice", ("approver",)), approval_by("bob", ("approver",))]
    assert missing_roles(d, two_approvers) == {"security"}
    assert not quorum_met(d, two_approvers)
    with_security = [approval_by("alice", ("approver",)), approval_by("sam", ("security",))]
    assert quorum_met(d, with_security)
    assert quorum_met(d, [approval_by("pat", ("approver", "security"))])  # one person, both


def test_an_acknowledgement_needs_any_one_listed_role() -> None:
    d = decision().model_copy(
        update={"route": Route.ACKNOWLEDGE, "required_roles": ("team-web", "sre")}
    )
    assert quorum_met(d, [approval_by("wendy", ("team-web",))])
    assert quorum_met(d, [approval_by("sid", ("sre",))])
    assert not quorum_met(d, [])
    outsider = Identity("otto", frozenset({"team-data"}))
    assert "lacks a required role" in (check_approval(d, [], outsider, PLAN, AT) or "")


def test_an_approval_for_another_decision_does_not_count() -> None:
    d = decision()
    assert not quorum_met(d, [approval_by("alice", ("approver",), decision_id="dec-0")])


def _asking(steps: list[tuple[str, str, dict[str, str]]], **update: object) -> DecisionEnvelope:
    inputs = [
        {"action": {"name": a}, "step": {"index": n, "target": t, "params": p}}
        for n, (a, t, p) in enumerate(steps)
    ]
    return decision().model_copy(update={"policy_input": {"steps": inputs}, **update})


def test_a_new_decision_repeats_a_request_only_if_nothing_it_asks_changed() -> None:
    failover: list[tuple[str, str, dict[str, str]]] = [("failover_database", "orders-db", {})]
    earlier = _asking(failover)
    # reworded rationale and confidence: another plan hash, the same operations
    again = _asking(failover, decision_id="dec-2", plan_hash="b" * 64)
    assert repeats_request(earlier, again, [])
    assert not repeats_request(None, again, [])
    assert not repeats_request(earlier, _asking([("restart_service", "orders-db", {})]), [])
    assert not repeats_request(
        earlier, _asking([("failover_database", "orders-db", {"to": "replica-2"})]), []
    )
    assert not repeats_request(earlier, again.model_copy(update={"quorum": 2}), [])
    assert not repeats_request(
        earlier, again.model_copy(update={"required_roles": ("approver", "dba")}), []
    )
    # someone already answered the earlier request: they must hear it was replaced
    assert not repeats_request(earlier, again, [approval("alice")])
    autonomous = earlier.model_copy(update={"route": Route.AUTONOMOUS})
    assert not repeats_request(autonomous, again.model_copy(update={"route": Route.AUTONOMOUS}), [])
    # a decision without a readable policy input is never taken for the same request
    assert not repeats_request(decision(), decision().model_copy(update={"decision_id": "d"}), [])
