"""The value objects of fault injection: an incident spec, a parameter schema, what an injection did."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ContainmentError",
    "Incident",
    "IncidentError",
    "Injection",
    "JSONScalar",
    "Param",
    "derive_seed",
    "relpath_within",
]

JSONScalar = str | int | float | bool | None


class IncidentError(ValueError):
    """An incident spec or parameter that cannot be injected; the message names the value and what is allowed."""


class ContainmentError(IncidentError):
    """An injector was asked to touch a path outside the environment root."""


def _freeze_params(params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> tuple[tuple[str, Any], ...]:
    items = dict(params or {})
    for name, value in items.items():
        if not isinstance(name, str):
            raise IncidentError(f"incident parameter names must be strings, got {name!r}")
        if isinstance(value, list):
            items[name] = tuple(value)
    return tuple(sorted(items.items()))


@dataclass(frozen=True)
class Incident:
    """What to break and how: a frozen, hashable, JSON-serialisable spec.

    ``kind`` and ``mode`` select an injector from the registry, ``params`` are its
    parameters, ``target`` optionally names the artifact to hit (a path relative to
    the environment root, or a role such as ``"data"``), ``seed`` fixes every random
    choice the injector makes.
    """

    kind: str
    mode: str | None = None
    params: tuple[tuple[str, Any], ...] = field(default=())
    target: str | None = None
    seed: int | None = None

    def __init__(
        self,
        kind: str,
        mode: str | None = None,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        target: str | None = None,
        seed: int | None = None,
    ) -> None:
        if not isinstance(kind, str) or not kind:
            raise IncidentError(f"incident kind must be a non-empty string, got {kind!r}")
        if mode is not None and not isinstance(mode, str):
            raise IncidentError(f"incident mode must be a string, got {mode!r}")
        if target is not None and not isinstance(target, str):
            raise IncidentError(f"incident target must be a string path, got {target!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise IncidentError(f"incident seed must be an integer, got {seed!r}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "params", _freeze_params(params))
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "seed", seed)

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def replace(self, **changes: Any) -> Incident:
        values: dict[str, Any] = {
            "kind": self.kind,
            "mode": self.mode,
            "params": self.param_dict,
            "target": self.target,
            "seed": self.seed,
        }
        values.update(changes)
        return Incident(**values)

    def to_dict(self) -> dict[str, Any]:
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params}
        return {"kind": self.kind, "mode": self.mode, "params": params, "target": self.target, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        unknown = set(data) - {"kind", "mode", "params", "target", "seed"}
        if unknown:
            raise IncidentError(f"unknown incident fields {sorted(unknown)}; allowed: kind, mode, params, target, seed")
        return cls(data["kind"], data.get("mode"), data.get("params"), data.get("target"), data.get("seed"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def label(self) -> str:
        """Short human name, e.g. ``data_corruption/missing_values``."""
        return self.kind if self.mode is None else f"{self.kind}/{self.mode}"

    def marker_line(self) -> str:
        """The ``@pytest.mark.incident(...)`` line that replays this incident."""
        args = [repr(self.kind)]
        if self.mode is not None:
            args.append(f"mode={self.mode!r}")
        if self.target is not None:
            args.append(f"target={self.target!r}")
        for name, value in self.params:
            args.append(f"{name}={value!r}")
        if self.seed is not None:
            args.append(f"seed={self.seed}")
        return f"@pytest.mark.incident({', '.join(args)})"


def derive_seed(*parts: object) -> int:
    """A stable 32-bit seed from any parts (session seed, node id, index...)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big")


_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool"}


@dataclass(frozen=True)
class Param:
    """The schema of one injector parameter: its type, default and allowed values.

    ``low``/``high`` bound numbers (``low_open`` makes the lower bound exclusive, as in
    a fraction in (0, 1]); ``choices`` lists allowed values; ``choices_from`` names a
    list the environment supplies at injection time (e.g. ``"stages"``).
    """

    name: str
    type: type[Any]
    default: Any = None
    doc: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None
    choices_from: str | None = None
    required: bool = False
    severity: bool = False  # the knob strategies shrink towards its low end

    def describe_range(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.choices_from is not None:
            return f"one of the project's {self.choices_from}"
        if self.low is None and self.high is None:
            return ""
        lo = "-inf" if self.low is None else repr(self.low)
        hi = "inf" if self.high is None else repr(self.high)
        opening = "(" if self.low_open or self.low is None else "["
        closing = ")" if self.high_open or self.high is None else "]"
        return f"{opening}{lo}, {hi}{closing}"

    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.type, getattr(self.type, "__name__", str(self.type)))

    def check(self, value: Any, where: str, available: Mapping[str, Iterable[Any]] | None = None) -> Any:
        """Return ``value`` coerced to the parameter's type, or raise IncidentError naming it.

        The one place every path (markers, ``inject()``, ``mlops incident --param``) validates a value.
        """
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        self._refuse_non_finite(value, where)
        if self.type is not bool and isinstance(value, bool) or not isinstance(value, self.type):
            raise IncidentError(
                f"{where}: parameter {self.name}={value!r} must be of type {self.type_name()}"
                + (f", {self.describe_range()}" if self.describe_range() else "")
            )
        if self.choices is not None and value not in self.choices:
            raise IncidentError(f"{where}: parameter {self.name}={value!r} is not allowed; {self.describe_range()}")
        if self.choices_from is not None and available is not None and self.choices_from in available:
            allowed = list(available[self.choices_from])
            if value not in allowed:
                raise IncidentError(
                    f"{where}: parameter {self.name}={value!r} is not one of the project's {self.choices_from}: "
                    + ", ".join(repr(a) for a in allowed)
                )
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise IncidentError(f"{where}: parameter {self.name}={value!r} is out of range {self.describe_range()}")
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise IncidentError(f"{where}: parameter {self.name}={value!r} is out of range {self.describe_range()}")
        return value

    def _refuse_non_finite(self, value: Any, where: str) -> None:
        """NaN and infinity compare false with every bound, so they would slip past the range check."""
        if self.type not in (int, float) or not isinstance(value, float) or math.isfinite(value):
            return
        if self.type is int:
            what = "an integer"
        else:
            what = "a number" if math.isnan(value) else "a finite number"
        rng = self.describe_range()
        raise IncidentError(f"{where}: parameter {self.name}={value!r} is not {what}" + (f" in {rng}" if rng else ""))

    def from_text(self, text: str) -> Any:
        """``text`` (a command-line value) as this parameter's type; what cannot convert is passed on for ``check``
        to name."""
        if self.type is str:
            return text
        if self.type is bool:
            return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
                text.strip().lower(), text
            )
        for cast in (int, float) if self.type is int else (self.type,):
            try:
                return cast(text)
            except (TypeError, ValueError):
                continue
        return text


@dataclass(frozen=True)
class Injection:
    """What one injector did: the incident (with its resolved params), the files it touched, a description.

    ``touched`` are paths relative to the environment root; ``damaged_digests`` maps each
    touched file that still exists to its content digest after the damage, so verification can
    tell when a "recovered" file is in fact still the damaged one.
    """

    incident: Incident
    touched: tuple[str, ...]
    description: str
    damaged_digests: tuple[tuple[str, str], ...] = ()
    details: tuple[tuple[str, Any], ...] = ()
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident.to_dict(),
            "touched": list(self.touched),
            "description": self.description,
            "damaged_digests": dict(self.damaged_digests),
            "details": dict(self.details),
            "dry_run": self.dry_run,
        }


def relpath_within(root: Path, path: Path | str) -> str:
    """``path`` relative to ``root`` (as posix), refusing anything that resolves outside it (``..``, symlinks,
    absolute)."""
    root_resolved = Path(root).resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root_resolved / candidate
    resolved = candidate.resolve()
    try:
        rel = resolved.relative_to(root_resolved)
    except ValueError:
        raise ContainmentError(
            f"refusing to touch {str(path)!r}: it resolves to {str(resolved)!r}, outside the environment root "
            f"{str(root_resolved)!r}"
        ) from None
    return rel.as_posix()
