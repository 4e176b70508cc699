"""pytest-mlchaos: chaos testing for ML pipelines."""

__version__ = "0.1.0"
