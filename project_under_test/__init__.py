"""The reference MLOps system: churn data and a model versioned with DVC and MLflow, snapshots and recovery.

Heavy libraries (DVC, MLflow, scikit-learn, pandas) are imported inside functions, never here.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
