"""ARF: a governed autonomous-remediation control plane for DevSecOps."""

__version__ = "0.1.0"
