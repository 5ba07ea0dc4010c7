"""Layer 3: deterministic policy, risk scoring, limits and the grounding gate."""
