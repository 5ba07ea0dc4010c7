from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arf.core.canonical import canonical_json, content_hash
from arf.core.records import PlanStep, RemediationPlan

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=5), json_values, max_size=6))
def test_canonical_json_ignores_key_order(value: dict[str, object]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(value) == canonical_json(reordered)
    assert content_hash(value) == content_hash(reordered)


def plan(version: str) -> RemediationPlan:
    return RemediationPlan(
        plan_id="p1",
        hypothesis_ids=("h1",),
        steps=(
            PlanStep(action="rollback_deploy", target="checkout", params={"to_version": version}),
        ),
        rationale="r",
        expected_impact="i",
        rollback="b",
        confidence=0.9,
    )


def test_plan_hash_changes_with_any_edit() -> None:
    assert plan("1.0").plan_hash() == plan("1.0").plan_hash()
    assert plan("1.0").plan_hash() != plan("1.1").plan_hash()
