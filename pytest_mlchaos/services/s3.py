"""An S3-compatible server (moto's, in a child process) on loopback, and the plugin's own reads of it.

The plugin reads the server directly (never through the fault proxy, never through the system
under test) with boto3, imported only here and only when services are on.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .lifecycle import LOOPBACK, ServiceProcess, free_port, start_service

# moto accepts any credentials; these name no real account (and are never sent anywhere but loopback)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "mlchaos", "AWS_SECRET_ACCESS_KEY": "mlchaos", "AWS_DEFAULT_REGION": "us-east-1"}


def start_s3(workdir: Path, timeout: float = 60.0) -> ServiceProcess:
    """``python -m moto.server`` on a free port of 127.0.0.1 (in memory: its data lives as long as it does)."""
    port = free_port()
    return start_service(
        "s3",
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
        port,
        ready_path="/moto-api/",
        log=workdir / "s3.log",
        timeout=timeout,
    )


def client(endpoint: str) -> Any:
    """A boto3 S3 client of ``endpoint`` (a loopback URL) with the dummy credentials and nothing of the user's AWS
    set-up: no profile (``AWS_PROFILE`` of a shell would name one this machine may not have), no config or
    credentials file, no HTTP proxy."""
    import boto3
    import botocore.session
    from botocore.config import Config

    # (config key, environment variables, default, conversion): None for the variables, so AWS_* are not read
    core = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    return boto3.session.Session(botocore_session=core).client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30, proxies={}),
    )


def upload_tree(s3: Any, bucket: str, source: Path, prefix: str = "") -> int:
    """Create ``bucket`` and upload every file under ``source`` to ``prefix/<relative path>``; the count."""
    s3.create_bucket(Bucket=bucket)
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = (prefix.rstrip("/") + "/" if prefix else "") + path.relative_to(source).as_posix()
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        count += 1
    return count


def objects(s3: Any, bucket: str, prefix: str = "") -> Iterator[str]:
    """Every key of ``bucket`` under ``prefix``."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield str(item["Key"])


def digests(s3: Any, bucket: str, prefix: str = "") -> dict[str, str]:
    """BLAKE2b-256 of every object under ``prefix`` (the manifest's digest), by key relative to ``prefix``."""
    found = {}
    for key in objects(s3, bucket, prefix):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        found[key[len(prefix) :].lstrip("/")] = hashlib.blake2b(body, digest_size=32).hexdigest()
    return found


__all__ = ["CREDENTIALS", "client", "digests", "objects", "start_s3", "upload_tree"]
