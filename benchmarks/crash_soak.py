"""Crash soak: SIGKILL the control plane at 1,000 seeded step boundaries (the CI test does 50).

Run: .venv/bin/python -m benchmarks.crash_soak [--points 1000] [--quick]
Prints how many points ended exactly as the run without a kill (same state and outcome, each
effect applied once, same platform state, ledger intact, compliant, every step found in doubt
settled), how many steps a restart found in doubt and how many operations were sent again,
which checkpoints were hit, and the time per point. Asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from arf.testing.crash import SCENARIOS, plan_for, reference, run_plan


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="10 points")
    args = parser.parse_args(argv)
    points = 10 if args.quick else args.points
    with tempfile.TemporaryDirectory(prefix="arf-soak-") as tmp:
        root = Path(tmp)
        references, expected = {}, {}
        for scenario in sorted(SCENARIOS):
            expected[scenario], references[scenario] = reference(root, scenario)
        started = time.perf_counter()
        same = killed = in_doubt = resent = 0
        where: Counter[str] = Counter()
        failures: list[str] = []
        for seed in range(points):
            plan = plan_for(seed, references)
            result, kills = run_plan(root / f"p{seed}", plan)
            killed += kills
            in_doubt += result.in_doubt
            resent += result.resent
            where[plan.where[0]] += 1
            if result == expected[plan.scenario]:
                same += 1
            else:
                failures.append(f"seed {seed}: {plan}")
        elapsed = time.perf_counter() - started
    print(f"points: {points}, workers killed: {killed}, ended as without a kill: {same}")
    print(f"steps found in doubt and reconciled: {in_doubt}, operations sent again: {resent}")
    print(f"time: {elapsed:.1f} s ({1000 * elapsed / points:.0f} ms per point)")
    for name, count in sorted(where.items()):
        print(f"  {count:4d}  {name}")
    for failure in failures[:20]:
        print("FAILED", failure)
    return {
        "points": points,
        "same": same,
        "killed": killed,
        "in_doubt": in_doubt,
        "resent": resent,
        "seconds": elapsed,
    }


if __name__ == "__main__":
    main()
