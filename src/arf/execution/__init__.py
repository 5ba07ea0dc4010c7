"""Layer 5: the only layer that changes anything, and only through the action catalog."""
