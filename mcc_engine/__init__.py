"""MCC Annotate's engine: data, the MCC method, training, inference and dataset formats (no Qt)."""

__version__ = "0.1.0"
