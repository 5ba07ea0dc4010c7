from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arf.core.errors import IllegalTransitionError
from arf.core.records import Incident, IncidentState, Outcome
from arf.core.states import ALLOWED_TRANSITIONS, TERMINAL_STATES, is_allowed, transition
from arf.testing.fakes import make_incident

AT = datetime(2026, 1, 1, tzinfo=UTC)


def incident(state: IncidentState) -> Incident:
    return make_incident(AT, state)


ALL_PAIRS = [(a, b) for a in IncidentState for b in IncidentState]


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS)
def test_every_pair_is_either_allowed_or_refused_without_change(
    source: IncidentState, target: IncidentState
) -> None:
    before = incident(source)
    if target in ALLOWED_TRANSITIONS[source]:
        after, record = transition(before, target, reason="r", at=AT, actor="arf-system")
        assert after.state is target
        assert after.revision == before.revision + 1
        assert (record.from_state, record.to_state) == (source, target)
    else:
        with pytest.raises(IllegalTransitionError, match="not an allowed transition"):
            transition(before, target, reason="r", at=AT, actor="arf-system")
        assert before.state is source  # records are immutable; nothing changed


def test_table_covers_every_state_and_terminal_states_only_close() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(IncidentState)
    assert ALLOWED_TRANSITIONS[IncidentState.CLOSED] == frozenset()
    for state in TERMINAL_STATES - {IncidentState.CLOSED}:
        assert ALLOWED_TRANSITIONS[state] == {IncidentState.CLOSED}


def test_nothing_executes_without_passing_through_a_decision() -> None:
    # Only READY leads to EXECUTING, and only DECIDED or AWAITING_HUMAN lead to READY.
    into_executing = {s for s in IncidentState if is_allowed(s, IncidentState.EXECUTING)}
    into_ready = {s for s in IncidentState if is_allowed(s, IncidentState.READY)}
    assert into_executing == {IncidentState.READY}
    assert into_ready == {IncidentState.DECIDED, IncidentState.AWAITING_HUMAN}


def test_outcomes_follow_terminal_states() -> None:
    resolved, _ = transition(
        incident(IncidentState.VERIFYING), IncidentState.RESOLVED, reason="ok", at=AT, actor="a"
    )
    assert resolved.outcome is Outcome.RESOLVED and resolved.resolved_at == AT
    rolled, _ = transition(
        incident(IncidentState.ROLLING_BACK),
        IncidentState.ESCALATED,
        reason="rb",
        at=AT,
        actor="a",
        outcome=Outcome.ROLLED_BACK,
    )
    assert rolled.outcome is Outcome.ROLLED_BACK


@given(st.lists(st.sampled_from(list(IncidentState)), max_size=30))
def test_random_walks_only_ever_take_allowed_steps(path: list[IncidentState]) -> None:
    current = incident(IncidentState.OPEN)
    for target in path:
        allowed = is_allowed(current.state, target)
        try:
            current, _ = transition(current, target, reason="r", at=AT, actor="a")
            assert allowed
        except IllegalTransitionError:
            assert not allowed
