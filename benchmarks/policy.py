"""Benchmark of a policy decision: the default pack grown to 50 rules, one routed plan step.

Run: .venv/bin/python -m benchmarks.policy [--quick]
Prints p50/p99 per decision (target: p99 under 200 µs with 50 rules); asserts nothing about
speed. Also times the same decisions passing plain dicts to the evaluator instead of one
`cel.Context` per step, to show why the engine builds a context.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from importlib import resources
from typing import Any

import cel

from arf.governance.policy import PolicyBundle, load_policy_text, route
from arf.governance.schema import neutral_input

EXTRA_RULE = """
  - id: extra-{n}
    when: >-
      target.name == "svc-{n}" && action.risk_class in ["medium", "high"] &&
      history.target_runs_24h > {runs} && plan.replica_share < 0.{share}
    effect: {effect}
"""


def fifty_rule_bundle() -> PolicyBundle:
    text = resources.files("arf.governance").joinpath("default_policy.yaml").read_text("utf-8")
    base = load_policy_text(text, "pack")
    effects = ["approve", "acknowledge", "allow"]
    extra = "".join(
        EXTRA_RULE.format(n=n, runs=n % 5, share=n % 9 + 1, effect=effects[n % 3])
        for n in range(50 - len(base.rules))
    )
    return load_policy_text(text + extra, "pack+extra")


def inputs(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        document = neutral_input()
        document["action"]["risk_class"] = rng.choice(["low", "medium", "high"])
        document["target"]["environment"] = rng.choice(["production", "staging"])
        document["target"]["name"] = f"svc-{rng.randrange(40)}"
        document["history"]["target_runs_24h"] = rng.randrange(6)
        document["diagnosis"]["confidence"] = rng.random()
        document["risk"]["score"] = rng.random()
        found.append(document)
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    count = 500 if args.quick else 20_000
    bundle = fifty_rule_bundle()
    documents = inputs(count, seed=7)
    for document in documents[:50]:  # warm up
        route(bundle, [document])
    timings = []
    for document in documents:
        started = time.perf_counter()
        route(bundle, [document])
        timings.append((time.perf_counter() - started) * 1e6)
    plain = []
    for document in documents[: min(count, 500)]:
        started = time.perf_counter()
        for rule in bundle.rules:
            rule.program.execute(document)  # a dict converted again for every rule
        plain.append((time.perf_counter() - started) * 1e6)
    context = []
    for document in documents[: min(count, 500)]:
        started = time.perf_counter()
        shared = cel.Context(document)
        for rule in bundle.rules:
            rule.program.execute(shared)
        context.append((time.perf_counter() - started) * 1e6)
    results = {
        "rules": float(len(bundle.rules)),
        "decisions": float(count),
        "route_p50_us": round(statistics.median(timings), 1),
        "route_p99_us": round(percentile(timings, 0.99), 1),
        "evaluate_dicts_p50_us": round(statistics.median(plain), 1),
        "evaluate_context_p50_us": round(statistics.median(context), 1),
    }
    for name, value in results.items():
        print(f"{name:>26}: {value:,.1f}")
    return results


if __name__ == "__main__":
    main()
