"""One typed config: defaults in code, overridable from ``params.yaml`` (which DVC also reads)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .layout import PARAMS


class ConfigError(ValueError):
    """A ``params.yaml`` that cannot be read or holds a bad value; the message names the file and the value."""


@dataclass(frozen=True)
class DataConfig:
    rows: int = 5000
    seed: int = 42


@dataclass(frozen=True)
class ProcessConfig:
    test_size: float = 0.2


@dataclass(frozen=True)
class TrainConfig:
    n_estimators: int = 80
    max_depth: int = 8
    min_samples_leaf: int = 5
    cv_folds: int = 3
    random_state: int = 42


@dataclass(frozen=True)
class BusinessConfig:
    """Per-customer money: a retention offer costs ``offer_cost``; a churner kept is worth ``customer_value``."""

    offer_cost: float = 50.0
    customer_value: float = 500.0
    save_rate: float = 0.4


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    business: BusinessConfig = field(default_factory=BusinessConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self, where: str = "config") -> "Config":
        checks = [
            (self.data.rows >= 100, f"data.rows={self.data.rows} must be >= 100"),
            (0.05 <= self.process.test_size <= 0.5, f"process.test_size={self.process.test_size} must be in [0.05, 0.5]"),
            (self.train.n_estimators >= 1, f"train.n_estimators={self.train.n_estimators} must be >= 1"),
            (self.train.max_depth >= 1, f"train.max_depth={self.train.max_depth} must be >= 1"),
            (self.train.cv_folds >= 2, f"train.cv_folds={self.train.cv_folds} must be >= 2"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"{where}: {message}")
        return self


def _section(cls: type, values: Any, where: str) -> Any:
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: section must be a mapping, got {values!r}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; allowed: {sorted(known)}")
    out = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        kind = type(default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ConfigError(f"{where}.{name}={value!r} must be of type {kind.__name__}")
        out[name] = value
    return cls(**out)


def from_dict(data: Any, where: str = PARAMS) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {type(data).__name__}")
    sections = {"data": DataConfig, "process": ProcessConfig, "train": TrainConfig, "business": BusinessConfig}
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise ConfigError(f"{where}: unknown sections {unknown}; allowed: {sorted(sections)}")
    return Config(**{k: _section(cls, data.get(k), f"{where}: {k}") for k, cls in sections.items()}).validate(where)


def load(root: Path) -> Config:
    """The config of the environment at ``root`` (defaults when it has no ``params.yaml``)."""
    import yaml

    path = Path(root) / PARAMS
    if not path.is_file():
        return Config()
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return from_dict(data or {}, str(path))


def dump(config: Config, root: Path) -> None:
    import yaml

    (Path(root) / PARAMS).write_text(yaml.safe_dump(config.to_dict(), sort_keys=True))


def with_overrides(config: Config, *, rows: int | None = None, seed: int | None = None) -> Config:
    data = config.data
    if rows is not None:
        data = replace(data, rows=rows)
    if seed is not None:
        data = replace(data, seed=seed)
    train = replace(config.train, random_state=seed) if seed is not None else config.train
    return replace(config, data=data, train=train).validate()
