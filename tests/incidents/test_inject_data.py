"""Data corruption: each mode's damage is what it claims, and detectable the way it should be."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

import pytest

from pytest_mlchaos.incidents import Incident, IncidentError, inject

from mlchaos_testenv import ARTIFACTS, COLUMNS, DATA, NUMERIC, ROWS


def run(root: Path, mode: str, seed: int = 1, target: str | None = None, **params):
    return inject(root, Incident("data_corruption", mode, params, target=target, seed=seed), artifacts=ARTIFACTS)


def read(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def digest(path: Path) -> str:
    """The harness's content digest (BLAKE2b-256), computed here independently."""
    return hashlib.blake2b(path.read_bytes(), digest_size=32).hexdigest()


def test_noise_changes_only_numeric_features_of_the_chosen_share_of_rows(env: Path) -> None:
    before = read(env / DATA)
    injection = run(env, "noise", fraction=0.2, scale=1.0)
    after = read(env / DATA)
    assert injection.touched == (DATA,)
    assert after[0] == before[0] and len(after) == len(before)
    changed_rows = [i for i in range(1, len(before)) if before[i] != after[i]]
    assert 0.15 * ROWS <= len(changed_rows) <= 0.2 * ROWS
    numeric = {COLUMNS.index(c) for c in NUMERIC}
    for i in changed_rows:
        for c, (old, new) in enumerate(zip(before[i], after[i])):
            if c not in numeric:
                assert old == new, f"non-numeric column {COLUMNS[c]} changed in row {i}"
            else:
                float(new)  # still a number
    assert injection.damaged_digests == ((DATA, digest(env / DATA)),)


def test_missing_values_blank_one_feature_per_hit_row_and_never_the_label(env: Path) -> None:
    import pandas as pd

    before = pd.read_csv(env / DATA)
    run(env, "missing_values", fraction=0.1)
    after = pd.read_csv(env / DATA)
    assert before.isna().sum().sum() == 0
    assert after.isna().any(axis=1).sum() == round(0.1 * ROWS)
    assert after["churn"].isna().sum() == 0
    assert after.isna().sum(axis=1).max() == 1


def test_duplicates_add_exact_copies_next_to_their_originals(env: Path) -> None:
    import pandas as pd

    run(env, "duplicates", fraction=0.05)
    after = pd.read_csv(env / DATA)
    assert len(after) == ROWS + round(0.05 * ROWS)
    assert after.duplicated().sum() == round(0.05 * ROWS)
    dup_positions = after.index[after.duplicated()]
    assert all(after.iloc[p].equals(after.iloc[p - 1]) for p in dup_positions)


def test_label_flip_changes_only_the_label_column(env: Path) -> None:
    import pandas as pd

    before = pd.read_csv(env / DATA)
    run(env, "label_flip", fraction=0.1)
    after = pd.read_csv(env / DATA)
    assert (before["churn"] != after["churn"]).sum() == round(0.1 * ROWS)
    assert before.drop(columns="churn").equals(after.drop(columns="churn"))
    assert set(after["churn"]) == {0, 1}


def test_label_flip_on_a_missing_label_column_names_the_columns(env: Path) -> None:
    before = digest(env / DATA)
    with pytest.raises(IncidentError, match=r"label='target'.*columns: customer_id, tenure"):
        run(env, "label_flip", label="target")
    assert digest(env / DATA) == before


@pytest.mark.parametrize("change", ["drop", "rename", "reorder", "dtype"])
def test_schema_drift_is_seen_by_a_schema_check(env: Path, change: str) -> None:
    import pandas as pd

    base = pd.read_csv(env / DATA)
    params = {"column": "monthly_charges"} if change != "reorder" else {}
    injection = run(env, "schema_drift", change=change, **params)
    after = pd.read_csv(env / DATA)
    if change == "drop":
        assert list(after.columns) == [c for c in COLUMNS if c != "monthly_charges"]
    elif change == "rename":
        assert "monthlyCharges" in after.columns and "monthly_charges" not in after.columns
    elif change == "reorder":
        assert sorted(after.columns) == sorted(COLUMNS) and list(after.columns) != COLUMNS
        assert after[COLUMNS].equals(base)  # same data, other order
    else:
        assert not pd.api.types.is_numeric_dtype(after["monthly_charges"]) and base["monthly_charges"].dtype == float
        assert after["monthly_charges"].str.replace(",", ".").astype(float).equals(base["monthly_charges"])
    assert change in injection.description or "dtype" in injection.description or "column" in injection.description


def test_truncate_cuts_mid_row_so_a_strict_reader_fails_on_the_last_row(env: Path) -> None:
    size = (env / DATA).stat().st_size
    run(env, "truncate", fraction=0.5)
    data = (env / DATA).read_bytes()
    assert 0.45 * size < len(data) < 0.55 * size
    assert not data.endswith(b"\n")
    rows = read(env / DATA)
    assert len(rows[-1]) < len(COLUMNS)
    assert all(len(r) == len(COLUMNS) for r in rows[:-1])


def test_bitflip_keeps_size_and_mtime_changes_the_hash_and_dvc_status_does_not_notice(env: Path) -> None:
    from dvc.repo import Repo

    path = env / DATA
    st = path.stat()
    before = digest(path)
    original = path.read_bytes()
    with Repo(str(env)) as repo:
        assert repo.status() == {}
    injection = run(env, "bitflip", flips=3)
    after = path.stat()
    damaged = path.read_bytes()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert digest(path) != before
    assert sum(a != b for a, b in zip(original, damaged)) == 3
    assert all(bin(a ^ b).count("1") == 1 for a, b in zip(original, damaged) if a != b)
    with Repo(str(env)) as repo:
        assert repo.status() == {}, "DVC trusts (inode, mtime, size): it must not notice a same-size bitflip"
    assert injection.damaged_digests == ((DATA, digest(path)),)


def test_delete_removes_the_file(env: Path) -> None:
    injection = run(env, "delete")
    assert not (env / DATA).exists()
    assert injection.touched == (DATA,) and injection.damaged_digests == ()


def test_stale_version_as_a_subset_is_a_valid_csv_with_the_oldest_rows(env: Path) -> None:
    import pandas as pd

    before = pd.read_csv(env / DATA)
    run(env, "stale_version", fraction=0.25, source="subset")
    after = pd.read_csv(env / DATA)
    assert len(after) == ROWS - round(0.25 * ROWS)
    assert after.equals(before.iloc[: len(after)])
    assert (env / DATA).read_bytes().endswith(b"\n")


def test_stale_version_puts_back_a_previous_version_from_the_dvc_cache(env: Path) -> None:
    from dvc.repo import Repo

    from mlchaos_testenv import git

    old = (env / DATA).read_bytes()
    (env / DATA).write_bytes(old + b"C99999,1,20.00,20.00,month,dsl,1\n")
    with Repo(str(env)) as repo:
        cwd = os.getcwd()
        os.chdir(env)
        try:
            repo.add([DATA])
        finally:
            os.chdir(cwd)
    git(env, "commit", "-q", "-am", "new data")
    injection = run(env, "stale_version", source="cache")
    assert (env / DATA).read_bytes() == old
    assert "DVC cache" in injection.description


def test_stale_version_from_the_cache_without_history_says_so(env: Path) -> None:
    with pytest.raises(IncidentError, match="no previous version.*source='subset'"):
        run(env, "stale_version", source="cache")


def test_a_stage_name_or_role_as_target_hits_those_files(env: Path) -> None:
    injection = run(env, "bitflip", target="prepare")
    assert injection.touched == ("data/prepared.csv",)
    injection = run(env, "delete", target="data")
    assert injection.touched == (DATA, "data/prepared.csv")
    assert not (env / DATA).exists() and not (env / "data/prepared.csv").exists()


def test_a_missing_target_is_refused_before_anything_is_touched(env: Path) -> None:
    with pytest.raises(IncidentError, match=r"'data/nope.csv' does not exist"):
        run(env, "noise", target="data/nope.csv")


def test_quoted_csv_round_trips_untouched_fields(tmp_path: Path) -> None:
    from pytest_mlchaos.artifacts import Artifacts

    path = tmp_path / "q.csv"
    rows = [["id", "note", "x", "churn"]] + [[str(i), f'say "hi", {i}', str(i * 1.5), str(i % 2)] for i in range(200)]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())
    inject(tmp_path, Incident("data_corruption", "label_flip", {"fraction": 0.5}, seed=3), artifacts=Artifacts(data=("q.csv",)))
    after = read(path)
    assert [r[:3] for r in after] == [r[:3] for r in rows]
    assert sum(a[3] != b[3] for a, b in zip(after[1:], rows[1:])) == 100


def test_value_modes_refuse_a_model_file_and_name_the_byte_modes_that_apply(env: Path) -> None:
    before = digest(env / "models/model.joblib")
    with pytest.raises(IncidentError, match=r"models/model.joblib is a joblib model file; noise edits the cells of CSV/TSV, "
                                            r"Parquet and JSON Lines tables only. Modes that apply to it as bytes: "
                                            r"bitflip, truncate, delete$"):
        run(env, "noise", target="models/model.joblib")
    assert digest(env / "models/model.joblib") == before


def test_noise_leaves_blanks_and_words_in_a_numeric_column_as_they_are(tmp_path: Path) -> None:
    """Rows outside the typing sample may hold anything; the old loop crashed on a word."""
    from pytest_mlchaos.artifacts import Artifacts

    rows = [[str(i), f"{i * 0.5:.2f}", str(i % 2)] for i in range(2000)]  # 500-row sample: every 4th row
    rows[1][0], rows[2][1], rows[3][0] = "n/a", "", "inf"
    path = tmp_path / "t.csv"
    path.write_text("a,b,churn\n" + "".join(",".join(r) + "\n" for r in rows))
    inject(tmp_path, Incident("data_corruption", "noise", {"fraction": 1.0}, seed=3), artifacts=Artifacts(data=("t.csv",)))
    after = read(path)[1:]
    assert (after[1][0], after[2][1], after[3][0]) == ("n/a", "", "inf")
    assert sum(a != b for a, b in zip(after, rows)) > 1900
    assert [r[2] for r in after] == [r[2] for r in rows]
