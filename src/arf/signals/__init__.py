"""Layer 1: ingestion, normalisation, dedup, correlation and context assembly."""
