"""Layer 4: identities, approvals, explanations and what reaches a person."""
