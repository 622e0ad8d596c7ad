"""dcops: the control plane of a government's central data center."""

__version__ = "0.1.0"
