"""The committed broken-artifact samples (fixtures/broken) and the injectors leave the same kind of damage."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.incidents import Incident, inject

BROKEN = Path(__file__).resolve().parents[2] / "fixtures" / "broken"
COLUMNS = ["customer_id", "tenure", "monthly_charges", "total_charges", "contract", "internet", "churn"]


def strict_read(path: Path) -> int:
    """Rows of a CSV, or ValueError naming the first malformed line (what a careful loader does)."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ValueError(f"missing columns: {', '.join(missing)}")
        n = 0
        for n, row in enumerate(reader, start=1):
            if len(row) != len(header):
                raise ValueError(f"line {n + 1} has {len(row)} field(s), expected {len(header)}")
    return n


@pytest.fixture
def sample(tmp_path: Path):
    """A copy of a sample in a fresh root, with artifacts naming it as data and model."""

    def copy(name: str, as_name: str) -> tuple[Path, Artifacts]:
        dest = tmp_path / as_name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BROKEN / name, dest)
        return dest, Artifacts(data=(as_name,), models=(as_name,))

    return copy


def test_the_samples_are_what_make_fixtures_writes_and_small(tmp_path: Path) -> None:
    sums = dict(reversed(line.split("  ", 1)) for line in (BROKEN / "SHA256SUMS").read_text().splitlines())
    for rel, digest in sums.items():
        assert hashlib.sha256((BROKEN / rel).read_bytes()).hexdigest() == digest, rel
    assert sum(p.stat().st_size for p in BROKEN.rglob("*") if p.is_file()) < 500_000
    readme = (BROKEN / "README.md").read_text()
    assert all(f"`{rel}`" in readme for rel in sums)


def test_a_truncated_csv_fails_strict_parsing_like_the_sample(sample) -> None:
    with pytest.raises(ValueError, match=r"line 101 has 1 field\(s\), expected 7"):
        strict_read(BROKEN / "churn_truncated.csv")
    path, arts = sample("churn_clean.csv", "data.csv")
    inject(path.parent, Incident("data_corruption", "truncate", seed=1), artifacts=arts)
    with pytest.raises(ValueError, match=r"line \d+ has [1-6] field\(s\), expected 7"):
        strict_read(path)
    for broken in (BROKEN / "churn_truncated.csv", path):
        assert not broken.read_bytes().endswith(b"\n")
        assert (BROKEN / "churn_clean.csv").read_bytes().startswith(broken.read_bytes())


def test_a_bitflipped_csv_differs_from_the_clean_one_only_in_one_bit_like_the_sample(sample) -> None:
    clean = (BROKEN / "churn_clean.csv").read_bytes()
    path, arts = sample("churn_clean.csv", "data.csv")
    inject(path.parent, Incident("data_corruption", "bitflip", seed=1), artifacts=arts)
    for broken in ((BROKEN / "churn_bitflip.csv").read_bytes(), path.read_bytes()):
        assert len(broken) == len(clean)
        diffs = [a ^ b for a, b in zip(clean, broken) if a != b]
        assert len(diffs) == 1 and bin(diffs[0]).count("1") == 1
        assert hashlib.sha256(broken).digest() != hashlib.sha256(clean).digest()


def test_a_dropped_column_fails_the_schema_check_like_the_sample(sample) -> None:
    with pytest.raises(ValueError, match="missing columns: monthly_charges$"):
        strict_read(BROKEN / "churn_dropped_column.csv")
    path, arts = sample("churn_clean.csv", "data.csv")
    inject(path.parent, Incident("data_corruption", "schema_drift", {"change": "drop", "column": "monthly_charges"}, seed=1),
           artifacts=arts)
    assert path.read_bytes() == (BROKEN / "churn_dropped_column.csv").read_bytes()


def test_an_overwritten_model_fails_to_load_like_the_sample(sample) -> None:
    import joblib

    joblib.load(BROKEN / "model_clean.joblib").predict([[1.0, 50.0, 50.0]])
    path, arts = sample("model_clean.joblib", "model.joblib")
    inject(path.parent, Incident("model_loss", "corrupt", {"nbytes": 64}, seed=1), artifacts=arts)
    clean = (BROKEN / "model_clean.joblib").read_bytes()
    for broken in (BROKEN / "model_overwritten.joblib", path):
        assert broken.stat().st_size == len(clean) and broken.read_bytes()[64:] == clean[64:]
        with pytest.raises(Exception):
            joblib.load(broken)


def test_a_truncated_model_fails_with_eof_like_the_sample(sample) -> None:
    import joblib

    path, arts = sample("model_clean.joblib", "model.joblib")
    inject(path.parent, Incident("model_loss", "truncate", seed=1), artifacts=arts)
    for broken in (BROKEN / "model_truncated.joblib", path):
        with pytest.raises(EOFError):
            joblib.load(broken)


def test_dvc_refuses_the_half_written_dvc_lock_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dvc.utils.serialize import YAMLFileCorruptedError
    from dvc.repo import Repo

    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    root = tmp_path / "killed_run"
    shutil.copytree(BROKEN / "killed_run", root)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    with Repo(str(root)) as repo, pytest.raises(YAMLFileCorruptedError):
        repo.status()


def test_the_injected_rwlock_has_the_shape_of_the_sample_and_dvcs_schema(tmp_path: Path) -> None:
    from dvc.rwlock import SCHEMA

    sample_lock = SCHEMA(json.loads((BROKEN / "killed_run/.dvc/tmp/rwlock").read_text()))
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "models").mkdir()
    arts = Artifacts(models=("models/model.joblib",), stages=("train",), stage_outputs={"train": ("models/model.joblib",)})
    inject(tmp_path, Incident("pipeline_failure", "stale_lock", {"stage": "train"}, seed=1), artifacts=arts)
    injected = SCHEMA(json.loads((tmp_path / ".dvc/tmp/rwlock").read_text()))
    for lock in (sample_lock, injected):
        (owner,) = lock["write"].values()
        assert owner["pid"] == 1 and owner["cmd"] == "dvc repro train"
    assert list(injected["write"]) == [str(tmp_path.resolve() / "models/model.joblib")]
