"""The composition root and the lifecycle orchestrator: the only package that sees all layers."""
