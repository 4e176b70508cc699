"""Content digests: the manifest's (BLAKE2b-256) and DVC's (md5), each defined once.

BLAKE2b is as collision-resistant as SHA-256 and about 3x faster in software (a 141 MB CSV:
0.25 s instead of 0.73 s here). md5 is only for matching what DVC records in ``dvc.lock``
and names its cache objects by.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

__all__ = ["DIGEST_NAME", "file_digest", "md5_file", "new_digest", "text_digest"]

#: The name of the manifest's digest (part of the baseline cache key: a new digest, a new baseline).
DIGEST_NAME = "blake2b-256"
_CHUNK = 1 << 20


def new_digest() -> Any:
    """An empty BLAKE2b-256 hash object, for a digest built from several parts."""
    return hashlib.blake2b(digest_size=32)


def file_digest(path: Path) -> str:
    """BLAKE2b-256 of a file's content (``DIGEST_NAME``), read in 1 MiB chunks."""
    return _hash_file(new_digest(), path)


def text_digest(text: str) -> str:
    """BLAKE2b-256 of a text's UTF-8 bytes."""
    return hashlib.blake2b(text.encode(), digest_size=32).hexdigest()


def md5_file(path: Path) -> str:
    """md5 of a file's bytes, as DVC 3 records it in ``dvc.lock`` (``hash: md5``)."""
    return _hash_file(hashlib.md5(usedforsecurity=False), path)


def _hash_file(h: Any, path: Path) -> str:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return str(h.hexdigest())
