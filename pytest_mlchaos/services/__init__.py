"""Real services for an environment (an S3 server for the DVC remote, an MLflow tracking server), each behind a
fault-injecting proxy, on loopback only. Importing this package imports none of moto, boto3, MLflow or DVC."""

__all__: list[str] = []  # the modules are internal; the ini key and marker are the interface
