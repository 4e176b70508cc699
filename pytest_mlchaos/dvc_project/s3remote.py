"""A ``DVCProject`` environment's S3 remote (``mlchaos_services = s3``): configured in the sandbox only, reached
with dvc-s3 over HTTP, with the endpoint's credentials and nothing from the user's shell.

``attach`` writes the remote into the environment's ``.dvc/config.local`` (git ignores it; the user's checkout
is never written, and the user's own remotes stay configured but are never contacted) and makes it the
default remote. The local directory remote (``REMOTE_DIR``) stays, as ``REMOTE_NAME``: recovery tries it
first, then this one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .repo import SITE_DIR, hermetic_environ, open_repo

__all__ = ["S3FS_TRIES", "S3_REMOTE_NAME", "attach", "attached", "fetch", "s3_environ"]

S3_REMOTE_NAME = "mlchaos-s3"
_KEYS = ("url", "endpoint_url", "access_key_id", "secret_access_key")
_LOOPBACK = "127.0.0.1,localhost,::1"
_PLAIN = re.compile(r"[\w.:/@+=-]+")  # values configobj reads back as written (no quotes, commas, comments)


def attach(root: Path, endpoint: Mapping[str, Any]) -> None:
    """Make the bucket ``endpoint`` names (``url``, ``endpoint_url``, ``access_key_id``, ``secret_access_key``,
    ``region``) the default DVC remote of the environment at ``root``; ``ValueError`` names a missing key."""
    missing = [key for key in _KEYS if not isinstance(endpoint.get(key), str) or not endpoint.get(key)]
    if missing:
        raise ValueError(f"the S3 endpoint given to DVCProject.attach_services lacks {', '.join(missing)}")
    if not str(endpoint["url"]).startswith("s3://"):
        raise ValueError(f"the S3 endpoint's url {endpoint['url']!r} is not an s3:// URL")
    remote = {
        "url": str(endpoint["url"]),
        "endpointurl": str(endpoint["endpoint_url"]),
        "access_key_id": str(endpoint["access_key_id"]),
        "secret_access_key": str(endpoint["secret_access_key"]),
        "region": str(endpoint.get("region") or "us-east-1"),
    }
    local = Path(root) / ".dvc" / "config.local"
    if not local.exists() and all(_PLAIN.fullmatch(value) for value in remote.values()):
        # the sandbox has none (the build never copies the user's): written as DVC writes it, without opening
        # the repository (about 0.2 s a test)
        lines = ["[core]", f"    remote = {S3_REMOTE_NAME}", f"['remote \"{S3_REMOTE_NAME}\"']"]
        local.write_text("\n".join([*lines, *(f"    {key} = {value}" for key, value in remote.items())]) + "\n")
        return
    with open_repo(root) as repo:
        with repo.config.edit("local") as conf:
            conf.setdefault("remote", {})[S3_REMOTE_NAME] = remote
            conf.setdefault("core", {})["remote"] = S3_REMOTE_NAME


def attached(root: Path) -> bool:
    """Whether the environment at ``root`` has the S3 remote (``attach`` was called on it)."""
    path = Path(root) / ".dvc" / "config.local"
    return path.is_file() and re.search(rf"remote\s+\"{re.escape(S3_REMOTE_NAME)}\"", path.read_text()) is not None


def s3_environ(root: Path, client_attempts: int = 1) -> dict[str, str]:
    """``hermetic_environ(root)`` without anything of the user's AWS set-up: every ``AWS_*`` variable is dropped,
    the AWS config and credentials files point at nothing, no instance metadata lookups, no HTTP proxy for
    loopback. The credentials in the remote's config are the only ones used. botocore's own retries are capped
    at ``client_attempts`` (it would otherwise reconnect for seconds): the recovery's retry policy decides."""
    env = {k: v for k, v in hermetic_environ(root).items() if not k.startswith("AWS_")}
    nowhere = str(Path(root).resolve() / SITE_DIR / "no-aws-config")
    no_proxy = ",".join(p for p in (env.get("NO_PROXY") or env.get("no_proxy") or "", _LOOPBACK) if p)
    env.update(
        {
            "AWS_CONFIG_FILE": nowhere,
            "AWS_SHARED_CREDENTIALS_FILE": nowhere,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": str(client_attempts),
            "AWS_RETRY_MODE": "standard",
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }
    )
    return env


# s3fs's own tries of one request inside one try of the recovery (its default: 5, up to 0.8 s apart). More does
# not get a flaky remote through: the listing and HEAD requests that fail there (503) are not retried by s3fs,
# and one of them failing aborts DVC's whole fetch; it only lengthens a remote that cuts transfers (10 s -> 17 s).
S3FS_TRIES = 1


@contextmanager
def _few_tries() -> Iterator[None]:
    """s3fs tries a failed request 5 times on its own, waiting up to 0.8 s (seconds per object under an outage):
    ``S3FS_TRIES`` times here, for the duration of the call, so the recovery's retry policy decides how long to
    wait. DVC's log of each failed try is kept quiet (the attempt records the last error)."""
    import s3fs

    saved, logger = s3fs.S3FileSystem.retries, logging.getLogger("dvc")
    level = logger.level
    s3fs.S3FileSystem.retries = S3FS_TRIES
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        s3fs.S3FileSystem.retries = saved
        logger.setLevel(level)


def fetch(root: Path) -> None:
    """``dvc fetch -r mlchaos-s3`` of every out into the environment's cache; raises when the remote cannot be
    reached or a transfer fails."""
    with _few_tries(), open_repo(root, environ=s3_environ(root)) as repo:
        repo.fetch(remote=S3_REMOTE_NAME)
