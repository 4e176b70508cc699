"""A small registry of toy injectors, so the fuzzing tests do not depend on the built-in catalogue.

Kinds in registration order (the order shrinking prefers): ``toy_data`` (truncate,
bitflip, missing_values), ``toy_model`` (corrupt, delete), ``toy_pipeline``
(partial_write, which needs ``available["stages"]``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from pytest_mlchaos.incidents import Incident, IncidentRegistry, InjectionContext, Param

from .toyproject import MODEL, TRAIN

FRACTION = dict(low=0.0, high=1.0, low_open=True, severity=True)


def _rows(path: Path) -> tuple[str, list[str]]:
    header, *rows = path.read_text(errors="replace").splitlines() or [""]
    return header, rows


def _missing(targets: list[Path]) -> str | None:
    """Compound incidents may hit a file an earlier one deleted: then there is nothing to damage."""
    gone = [p.name for p in targets if not p.is_file()]
    return f"nothing to damage: {', '.join(gone)} missing" if gone else None


def _write_rows(path: Path, header: str, rows: list[str]) -> None:
    path.write_text("\n".join([header, *rows]) + "\n")


def truncate(ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
    """Cut the last rows of the training data, as a crashed writer leaves it."""
    if _missing(targets):
        return _missing(targets)
    header, rows = _rows(targets[0])
    n = max(1, math.ceil(incident.param("fraction") * len(rows)))
    _write_rows(targets[0], header, rows[: len(rows) - n])
    return f"removed the last {n} rows"


def bitflip(ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
    """Invert bytes in place, same size and mtime put back, so only a content hash can tell."""
    if _missing(targets):
        return _missing(targets)
    path = targets[0]
    stat = path.stat()
    data = bytearray(path.read_bytes())
    start = data.find(b"\n") + 1  # keep the header readable
    positions = ctx.rng.sample(range(start, len(data)), min(incident.param("n_bytes"), len(data) - start))
    for pos in positions:
        data[pos] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return f"inverted {len(positions)} bytes"


def missing_values(ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
    """Blank the first feature of a fraction of rows (nested sets: a higher fraction blanks a superset)."""
    if _missing(targets):
        return _missing(targets)
    header, rows = _rows(targets[0])
    order = list(range(len(rows)))
    ctx.rng.shuffle(order)
    n = max(1, math.ceil(incident.param("fraction") * len(rows)))
    for i in order[:n]:
        rows[i] = "," + rows[i].split(",", 1)[1]
    _write_rows(targets[0], header, rows)
    return f"blanked f0 in {n} rows"


def corrupt(ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
    """Invert bytes of the model file (same size)."""
    if _missing(targets):
        return _missing(targets)
    path = targets[0]
    data = bytearray(path.read_bytes())
    positions = ctx.rng.sample(range(len(data)), min(incident.param("n_bytes"), len(data)))
    for pos in positions:
        data[pos] ^= 0xFF
    path.write_bytes(bytes(data))
    return f"inverted {len(positions)} model bytes"


def delete(ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
    """Delete the model file."""
    if _missing(targets):
        return _missing(targets)
    for path in targets:
        path.unlink()
    return "deleted the model"


def partial_write(ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
    """A stage died half-way: each of its outputs is cut to half its size."""
    if _missing(targets):
        return _missing(targets)
    for path in targets:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return f"stage {incident.param('stage')} left half-written outputs"


def _stage_outputs(ctx: InjectionContext, incident: Incident) -> list[str]:
    return list(ctx.artifacts.stage_outputs[incident.param("stage")])


def toy_registry() -> IncidentRegistry:
    registry = IncidentRegistry()
    registry.register_function("toy_data", "truncate", truncate, targets=lambda c, i: [i.target or TRAIN],
                               params=[Param("fraction", float, 0.1, **FRACTION)])
    registry.register_function("toy_data", "bitflip", bitflip, targets=lambda c, i: [i.target or TRAIN],
                               params=[Param("n_bytes", int, 1, low=1, high=64, severity=True)])
    registry.register_function("toy_data", "missing_values", missing_values, targets=lambda c, i: [i.target or TRAIN],
                               params=[Param("fraction", float, 0.1, **FRACTION)])
    registry.register_function("toy_model", "corrupt", corrupt, targets=lambda c, i: [MODEL],
                               params=[Param("n_bytes", int, 1, low=1, high=256, severity=True)])
    registry.register_function("toy_model", "delete", delete, targets=lambda c, i: [MODEL])
    registry.register_function("toy_pipeline", "partial_write", partial_write, targets=_stage_outputs,
                               params=[Param("stage", str, choices_from="stages", required=True)])
    return registry
