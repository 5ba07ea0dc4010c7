"""The evaluation's speed: ARF (evidence reasoner) over every scenario on several seeds.

Run: .venv/bin/python -m benchmarks.evaluation [--seeds 5] [--quick]
Prints episodes, incidents, wall time and incidents per second on one core (the whole
lifecycle on the generated 54-service platform, virtual clock). Asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from arf.bench.human import load_human_model
from arf.bench.run import BenchConfig, arf_maker, run_episodes
from arf.bench.scenarios import packaged_scenarios


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one seed, five scenarios")
    args = parser.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    specs = packaged_scenarios()[: 5 if args.quick else None]
    human = load_human_model()
    records = []
    started = time.perf_counter()
    for seed in range(1, seeds + 1):
        with tempfile.TemporaryDirectory(prefix="arf-eval-") as tmp:
            make = arf_maker("evidence", BenchConfig())
            records += run_episodes(make, specs, seed, human, lambda _: None, "ARF", Path(tmp))
    elapsed = time.perf_counter() - started
    incidents = sum(len(r.overhead_ms) for r in records)
    print(
        f"{len(records)} episodes, {incidents} incidents in {elapsed:.1f} s"
        f" ({incidents / elapsed:.1f} incidents/s, one core)"
    )
    return {"episodes": len(records), "incidents": incidents, "seconds": elapsed}


if __name__ == "__main__":
    main()
