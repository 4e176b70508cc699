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
_HEAD = 1 << 16  # bytes read to tell the format
# Magic numbers of the compressors joblib.dump(compress=...) uses, with the name that writes them again.
_COMPRESSORS = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ", "xz"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"ZF", "zlib"),
    (b"\x78\x01", "zlib"),
    (b"\x78\x5e", "zlib"),
    (b"\x78\x9c", "zlib"),
    (b"\x78\xda", "zlib"),
    (b"]\x00\x00", "lzma"),
)
_COMPRESSED = tuple(magic for magic, _ in _COMPRESSORS)


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
        head = fh.read(_HEAD)
    if head.startswith(_COMPRESSED):
        return "joblib"
    if not head.startswith(b"\x80"):
        return "opaque"
    if b"joblib.numpy_pickle" in head or b"NumpyArrayWrapper" in head:
        return "joblib"
    try:
        for _ in pickletools.genops(head):
            pass
    except ValueError as exc:
        # Our read cuts a longer stream anywhere (mid-opcode: "only 445 remain"; between opcodes: "exhausted
        # before seeing STOP"): still a pickle. An unknown opcode, or a whole file that ends early, is not.
        if len(head) < _HEAD or "unknown" in str(exc):
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


def save_model(obj: Any, path: Path, fmt: str, *, like: Path | None = None) -> None:
    """Write ``obj`` to ``path`` in serialisation ``fmt`` (``skops``, ``joblib`` or ``pickle``).

    ``like``: a file in that format whose settings are kept: joblib's compressor, pickle's protocol.
    """
    path = Path(path)
    if fmt == "skops":
        import skops.io as sio

        sio.dump(obj, path)
    elif fmt == "joblib":
        import joblib

        joblib.dump(obj, path, compress=joblib_compression(like) if like is not None else 0)
    elif fmt == "pickle":
        import pickle

        protocol = pickle_protocol(like) if like is not None else pickle.HIGHEST_PROTOCOL
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=protocol)
    else:
        raise ValueError(f"cannot write a model as {fmt!r}; formats: skops, joblib, pickle")


def joblib_compression(path: Path) -> tuple[str, int] | int:
    """The ``compress=`` that writes like the joblib file at ``path``: its compressor (level 3), or 0 (none)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    for magic, name in _COMPRESSORS:
        if head.startswith(magic):
            return (name, 3)
    return 0


def pickle_protocol(path: Path) -> int:
    """The protocol of the pickle stream at ``path`` (from its PROTO opcode; 2 and later have one)."""
    import pickle

    with open(path, "rb") as fh:
        head = fh.read(2)
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return head[1]
    return pickle.HIGHEST_PROTOCOL


__all__ = ["FORMATS", "joblib_compression", "load_model", "model_format", "pickle_protocol", "save_model"]
