"""The churn table's loader: a validation report of every problem, not a warning."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from project_under_test import data


@pytest.fixture(scope="module")
def table():
    return data.generate(400, 5)


def write(frame, path: Path) -> Path:
    data.write_csv(frame, path)
    return path


def test_a_generated_table_is_valid(table, tmp_path: Path) -> None:
    frame, report = data.load(write(table, tmp_path / "ok.csv"), expected_rows=400)
    assert report.ok and report.problems == [] and report.rows == 400
    assert list(frame.columns) == data.COLUMNS


def test_the_report_lists_every_problem_with_counts(table, tmp_path: Path) -> None:
    bad = table.copy()
    bad.loc[[0, 1, 2], "monthly_charges"] = None
    bad.loc[3, "churn"] = 2
    bad.loc[4, "contract_type"] = "weekly"
    bad.loc[5, "age"] = -4
    bad = bad.drop(columns=["feature_3"])
    bad = pd.concat([bad, bad.iloc[[10, 11]]], ignore_index=True)
    frame, report = data.load(write(bad, tmp_path / "bad.csv"), expected_rows=400)
    text = "\n".join(report.problems)
    assert not report.ok
    assert "missing columns ['feature_3']" in text
    assert "column 'monthly_charges' has 3 missing values" in text
    assert "target 'churn' has 1 values outside {0, 1}" in text
    assert "column 'contract_type' has 1 values not in" in text
    assert "column 'age' has 1 values outside [18, 100]" in text
    assert "2 duplicate rows" in text
    assert "402 rows, expected 400" in text
    assert len(data.clean(frame, report)) == 402 - 3 - 1 - 1 - 1 - 2


def test_wrong_dtypes_are_reported(table, tmp_path: Path) -> None:
    bad = table.astype({"support_calls": object})
    bad.loc[7, "support_calls"] = "many"
    _, report = data.load(write(bad, tmp_path / "dtype.csv"))
    assert "column 'support_calls' has 1 non-numeric values" in report.problems


def test_a_half_written_or_missing_csv_is_an_error_naming_the_file(table, tmp_path: Path) -> None:
    path = write(table, tmp_path / "half.csv")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    _, report = data.load(path, expected_rows=400)
    assert not report.ok  # the cut last row has missing fields, the count is short
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(data.DataError, match="empty.csv: not a readable CSV"):
        data.load(tmp_path / "empty.csv")
    with pytest.raises(data.DataError, match="nope.csv: file is missing"):
        data.load(tmp_path / "nope.csv")


def test_the_processed_split_is_stratified_scaled_and_deterministic(table) -> None:
    train, test = data.process(table, 0.2, 1)
    again_train, again_test = data.process(table, 0.2, 1)
    assert train.equals(again_train) and test.equals(again_test)
    assert len(test) == pytest.approx(80, abs=1)
    assert abs(train["churn"].mean() - test["churn"].mean()) < 0.02
    assert abs(train["age"].mean()) < 1e-6 and abs(train["age"].std(ddof=0) - 1) < 1e-3
    assert list(train.columns) == data.processed_columns()
