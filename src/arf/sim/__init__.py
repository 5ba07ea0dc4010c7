"""The simulated platform (digital twin) that demos and benchmarks act on. Sees only core."""
