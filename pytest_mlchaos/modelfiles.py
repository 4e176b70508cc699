"""Model files as a project wrote them: which serialisation a file uses, and loading it the same way.

A model file is opened with the library that wrote it: ``skops`` (a zip archive with a
``schema.json``), ``joblib`` (a pickle stream with joblib's numpy frames, possibly
compressed) or plain ``pickle``. Anything else is ``opaque``: bytes only a project's own
code can read. Nothing heavy is imported until a file is loaded.
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path
from typing import Any

FORMATS = ("skops", "joblib", "pickle", "opaque")
# Magic numbers of the compressors joblib.dump(compress=...) uses.
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x04\x22\x4d\x18", b"ZF",
               b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"]\x00\x00")  # gzip, bz2, xz, lz4, zlib, lzma


def model_format(path: Path) -> str:
    """``skops``, ``joblib``, ``pickle`` or ``opaque``, from the file's bytes (not its name)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                if "schema.json" in archive.namelist():
                    return "skops"
        except (zipfile.BadZipFile, OSError):
            return "opaque"
        return "opaque"
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith(_COMPRESSED):
        return "joblib"
    if not head.startswith(b"\x80"):
        return "opaque"
    if b"joblib.numpy_pickle" in head or b"NumpyArrayWrapper" in head:
        return "joblib"
    try:
        for _ in pickletools.genops(head):
            pass
    except ValueError as exc:  # a stream cut by our 64 KiB read is still a pickle
        if "at end of" not in str(exc) and "truncated" not in str(exc) and "not enough" not in str(exc):
            return "opaque"
    return "pickle"


def load_model(path: Path, fmt: str | None = None) -> Any:
    """The object in a model file, loaded with the library that wrote it (``opaque`` raises ValueError)."""
    path = Path(path)
    fmt = fmt or model_format(path)
    if fmt == "skops":
        import skops.io as sio

        return sio.load(path, trusted=sio.get_untrusted_types(file=path))
    if fmt == "joblib":
        import joblib

        return joblib.load(path)
    if fmt == "pickle":
        import pickle

        with open(path, "rb") as fh:
            return pickle.load(fh)
    raise ValueError(f"{path.name}: not a pickle, joblib or skops file; only the project's own code can load it")


def save_model(obj: Any, path: Path, fmt: str) -> None:
    """Write ``obj`` to ``path`` in serialisation ``fmt`` (``skops``, ``joblib`` or ``pickle``)."""
    path = Path(path)
    if fmt == "skops":
        import skops.io as sio

        sio.dump(obj, path)
    elif fmt == "joblib":
        import joblib

        joblib.dump(obj, path)
    elif fmt == "pickle":
        import pickle

        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        raise ValueError(f"cannot write a model as {fmt!r}; formats: skops, joblib, pickle")


__all__ = ["FORMATS", "load_model", "model_format", "save_model"]
