"""SIGKILL the control plane at 50 seeded step boundaries and restart it from disk.

Each point forks a worker that kills itself with SIGKILL at a checkpoint drawn from the seed
(before, during and after the effect, before and after each record and commit, during
rollback; a third of the points kill the restarted worker again). A fresh worker then
resumes from the database and the platform's saved state alone. Every point must end where
the run without a kill ends, with each step's effect applied exactly once and the ledger
intact. A step the kill left started but without an outcome is recorded "in doubt" and settled
by reading the platform: both scenarios' actions leave a visible trace, so nothing is even sent
twice. The 1,000-point soak is `python -m benchmarks.crash_soak`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from arf.testing.crash import SCENARIOS, plan_for, reference, run_plan

POINTS = 50


def test_every_seeded_kill_point_resumes_to_the_same_end_with_no_effect_twice(
    tmp_path: Path,
) -> None:
    references = {}
    expected = {}
    for scenario in sorted(SCENARIOS):
        result, trace = reference(tmp_path, scenario)
        assert result.succeeded_once and result.ledger_ok and result.compliant == 1
        assert result.in_doubt == 0 and result.resent == 0
        assert {"before-effect:forward", "during-effect", "after-effect:forward"} <= set(trace)
        references[scenario], expected[scenario] = trace, result
    assert "before-effect:rollback" in references["oom-too-big"]  # the rollback path is covered
    covered: Counter[str] = Counter()
    killed_total = in_doubt = 0
    for seed in range(POINTS):
        plan = plan_for(seed, references)
        result, killed = run_plan(tmp_path / f"point-{seed}", plan)
        where = f"seed {seed}: {plan.scenario} killed at {plan.kills} {plan.where}"
        assert killed >= 1, f"{where}: no kill happened"
        want = expected[plan.scenario]
        assert result.final == want.final, where
        assert result.applied == want.applied, f"{where}: an effect ran twice or not at all"
        assert result.releases == want.releases, where
        assert result.memory_limit_mb == want.memory_limit_mb, where
        assert result.succeeded_once, where
        assert result.ledger_ok, where
        assert result.compliant == 1, where
        assert result.in_doubt_settled, f"{where}: a step was left in doubt"
        assert result.resent == 0, f"{where}: reconciliation sent an applied step again"
        in_doubt += result.in_doubt
        covered[plan.where[0].split(":")[0]] += 1
        killed_total += killed
    assert killed_total >= POINTS
    assert in_doubt >= 5  # kills between a step's start and its outcome were settled
    # the seeds reach effects, records and commits alike
    assert {"before-effect", "during-effect", "after-effect", "before-record"} <= set(covered)
