"""Shared vocabulary: records, states, ports. Imports nothing else from arf."""
