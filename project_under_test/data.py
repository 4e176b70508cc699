"""The customer-churn table: a deterministic generator, a validating loader, a processor."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

NUMERIC = ["age", "account_age_months", "monthly_charges", "total_charges", "support_calls", "days_since_last_login"]
INTEGER = ["age", "account_age_months", "support_calls", "days_since_last_login"]
CATEGORICAL = {
    "contract_type": ("month-to-month", "one-year", "two-year"),
    "payment_method": ("electronic-check", "mailed-check", "bank-transfer", "credit-card"),
    "internet_service": ("dsl", "fiber-optic", "none"),
}
EXTRA = [f"feature_{i}" for i in range(11)]
TARGET = "churn"
COLUMNS = [*NUMERIC, *CATEGORICAL, *EXTRA, TARGET]
RANGES = {"age": (18, 100), "account_age_months": (0, 240), "monthly_charges": (0.0, 1000.0),
          "total_charges": (0.0, 1e6), "support_calls": (0, 100), "days_since_last_login": (0, 3650)}


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and what is wrong."""


def generate(rows: int, seed: int) -> "pd.DataFrame":
    """The churn table: same (rows, seed) => same values; churn follows a learnable logistic model."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    tenure = rng.integers(1, 73, rows)
    monthly = np.round(rng.uniform(20.0, 120.0, rows), 2)
    total = np.round(monthly * tenure * rng.uniform(0.9, 1.1, rows), 2)
    calls = rng.poisson(2.0, rows)
    login = rng.integers(0, 91, rows)
    contract = rng.choice(CATEGORICAL["contract_type"], rows, p=[0.5, 0.3, 0.2])
    payment = rng.choice(CATEGORICAL["payment_method"], rows)
    internet = rng.choice(CATEGORICAL["internet_service"], rows, p=[0.4, 0.4, 0.2])
    extra = np.round(rng.normal(0.0, 1.0, (rows, len(EXTRA))), 4)
    logit = (
        -1.3
        + 1.8 * (contract == "month-to-month") - 1.2 * (contract == "two-year")
        + 0.55 * (calls - 2.0)
        + 0.04 * (login - 45.0)
        - 0.035 * (tenure - 36.0)
        + 0.02 * (monthly - 70.0)
        + 0.6 * (payment == "electronic-check")
        + 0.5 * (internet == "fiber-optic")
        + 0.7 * extra[:, 0] - 0.5 * extra[:, 1]
    )
    churn = (rng.random(rows) < 1.0 / (1.0 + np.exp(-1.6 * logit))).astype(int)
    frame = pd.DataFrame({
        "age": age, "account_age_months": tenure, "monthly_charges": monthly, "total_charges": total,
        "support_calls": calls, "days_since_last_login": login,
        "contract_type": contract, "payment_method": payment, "internet_service": internet,
    })
    for i, name in enumerate(EXTRA):
        frame[name] = extra[:, i]
    frame[TARGET] = churn
    return frame


def write_csv(frame: "pd.DataFrame", path: Path) -> None:
    """Write atomically, with fixed formatting, so the bytes depend only on the values."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", float_format="%.6g")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buffer.getvalue())
    os.replace(tmp, path)


@dataclass
class ValidationReport:
    """What is wrong with a churn table: one line per problem (empty when valid)."""

    path: str
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    bad_rows: list[int] = field(default_factory=list)  # positional indices of rows to drop in a repair

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return f"{self.path}: " + ("valid" if self.ok else "; ".join(self.problems))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "problems": list(self.problems), "bad_rows": len(self.bad_rows)}


def read_csv(path: Path) -> "pd.DataFrame":
    """Parse a CSV, raising DataError (naming the file) when it is missing, empty or not parseable."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{path}: file is missing")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV: {first}") from None


def validate(frame: "pd.DataFrame", path: str, expected_rows: int | None = None) -> ValidationReport:
    """Check schema, dtypes, missing values, value ranges, duplicates, the target and the row count."""
    import numpy as np
    import pandas as pd

    report = ValidationReport(path=path, rows=len(frame))
    missing_cols = [c for c in COLUMNS if c not in frame.columns]
    extra_cols = [c for c in frame.columns if c not in COLUMNS]
    if missing_cols:
        report.problems.append(f"missing columns {missing_cols}")
    if extra_cols:
        report.problems.append(f"unexpected columns {extra_cols}")
    bad = np.zeros(len(frame), dtype=bool)
    for col in [c for c in (*NUMERIC, *EXTRA, TARGET) if c in frame.columns]:
        values = pd.to_numeric(frame[col], errors="coerce")
        non_numeric = values.isna() & frame[col].notna()
        if non_numeric.any():
            report.problems.append(f"column {col!r} has {int(non_numeric.sum())} non-numeric values")
        nan = values.isna()
        if nan.any():
            report.problems.append(f"column {col!r} has {int(nan.sum())} missing values")
        bad |= nan.to_numpy()
        if col in RANGES:
            low, high = RANGES[col]
            out = (values < low) | (values > high)
            if out.any():
                report.problems.append(f"column {col!r} has {int(out.sum())} values outside [{low}, {high}]")
                bad |= out.to_numpy()
        if col in INTEGER or col == TARGET:
            fractional = values.notna() & (values != values.round())
            if fractional.any():
                report.problems.append(f"column {col!r} has {int(fractional.sum())} non-integer values")
                bad |= fractional.to_numpy()
        if col == TARGET:
            outside = values.notna() & ~values.isin([0, 1])
            if outside.any():
                report.problems.append(f"target {TARGET!r} has {int(outside.sum())} values outside {{0, 1}}")
                bad |= outside.to_numpy()
    for col, allowed in CATEGORICAL.items():
        if col in frame.columns:
            unknown = ~frame[col].isin(allowed)
            if unknown.any():
                report.problems.append(f"column {col!r} has {int(unknown.sum())} values not in {list(allowed)}")
                bad |= unknown.to_numpy()
    duplicated = frame.duplicated().to_numpy()
    if duplicated.any():
        report.problems.append(f"{int(duplicated.sum())} duplicate rows")
        bad |= duplicated
    if expected_rows is not None and len(frame) != expected_rows:
        report.problems.append(f"{len(frame)} rows, expected {expected_rows}")
    if frame.empty:
        report.problems.append("no rows")
    report.bad_rows = [int(i) for i in np.flatnonzero(bad)]
    return report


def load(path: Path, expected_rows: int | None = None) -> tuple["pd.DataFrame", ValidationReport]:
    """Read and validate a raw churn table; the report lists problems instead of only warning."""
    frame = read_csv(path)
    return frame, validate(frame, str(path), expected_rows)


def clean(frame: "pd.DataFrame", report: ValidationReport) -> "pd.DataFrame":
    """Drop the rows the report marked bad (missing, out of range, unknown category, duplicate)."""
    import pandas as pd

    kept = frame.drop(index=frame.index[report.bad_rows]).reset_index(drop=True)
    for col in (c for c in (*NUMERIC, *EXTRA, TARGET) if c in kept.columns):
        kept[col] = pd.to_numeric(kept[col])
    for col in (c for c in (*INTEGER, TARGET) if c in kept.columns):
        kept[col] = kept[col].astype(int)
    return kept


def process(frame: "pd.DataFrame", test_size: float, seed: int) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """Stratified split, one-hot categoricals, standard-scale numeric columns with the train statistics."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    target = frame[TARGET].to_numpy()
    test_mask = np.zeros(len(frame), dtype=bool)
    for label in (0, 1):
        idx = np.flatnonzero(target == label)
        rng.shuffle(idx)
        test_mask[idx[: int(round(len(idx) * test_size))]] = True
    encoded = frame[[*NUMERIC, *EXTRA]].astype(float).copy()
    for col, allowed in CATEGORICAL.items():
        for value in allowed:
            encoded[f"{col}={value}"] = (frame[col] == value).astype(float)
    scale = [*NUMERIC, *EXTRA]
    train_part = encoded[~test_mask]
    mean = train_part[scale].mean()
    std = train_part[scale].std(ddof=0).replace(0.0, 1.0)
    encoded[scale] = ((encoded[scale] - mean) / std).round(6)
    encoded[TARGET] = target
    return encoded[~test_mask].reset_index(drop=True), encoded[test_mask].reset_index(drop=True)


def processed_columns() -> list[str]:
    cols = [*NUMERIC, *EXTRA]
    for col, allowed in CATEGORICAL.items():
        cols += [f"{col}={v}" for v in allowed]
    return [*cols, TARGET]


def validate_processed(path: Path) -> ValidationReport:
    """A processed split: the expected columns, all numeric, no missing values, a binary target, not empty."""
    import pandas as pd

    try:
        frame = read_csv(path)
    except DataError as exc:
        return ValidationReport(str(path), problems=[str(exc).split(": ", 1)[1]])
    report = ValidationReport(str(path), rows=len(frame))
    expected = processed_columns()
    if list(frame.columns) != expected:
        report.problems.append(f"columns differ from the processed schema ({len(frame.columns)} vs {len(expected)})")
        return report
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    if numeric.isna().any().any():
        report.problems.append(f"{int(numeric.isna().sum().sum())} missing or non-numeric values")
    if not numeric[TARGET].dropna().isin([0, 1]).all():
        report.problems.append(f"target {TARGET!r} has values outside {{0, 1}}")
    if frame.empty:
        report.problems.append("no rows")
    return report


def features_and_target(frame: "pd.DataFrame") -> tuple["pd.DataFrame", "Any"]:
    return frame.drop(columns=[TARGET]), frame[TARGET].to_numpy().astype(int)
