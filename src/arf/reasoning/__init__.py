"""Layer 2: diagnosis. Reasoners read snapshots and return Diagnoses; they change nothing."""
