"""The HTTP service: webhook receivers, incidents, approvals."""
