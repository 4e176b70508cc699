"""The ``mlops`` command line: status/recover output, and bad input refused with one line and no change."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from project_under_test.cli import main

from project_helpers import bitflip, tree_digests


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_json_of_a_healthy_environment(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-C", str(env), "status", "--json")
    data = json.loads(out)
    assert code == 0 and data["healthy"] and data["problems"] == []
    assert data["production"]["version"] == 1
    assert all(f["ok"] for f in data["files"].values()) and len(data["files"]) == 5
    assert data["metrics"]["f1"] >= 0.6


def test_status_and_recover_json_after_damage(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bitflip(env / "models" / "model.pkl")
    code, out, _ = run(capsys, "-C", str(env), "status", "--json")
    assert code == 1
    assert any(p.startswith("models/model.pkl") for p in json.loads(out)["problems"])
    code, out, _ = run(capsys, "-C", str(env), "recover", "--json")
    data = json.loads(out)
    assert code == 0 and data["recovered"] and data["strategy"] == "backup"
    assert data["problems_before"] and data["problems_after"] == []
    assert run(capsys, "-C", str(env), "status")[0] == 0


def test_the_console_script_runs(env: Path) -> None:
    exe = shutil.which("mlops") or str(Path(sys.executable).with_name("mlops"))
    proc = subprocess.run([exe, "-C", str(env), "snapshots", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [s["tag"] for s in json.loads(proc.stdout)] == ["baseline"]


def _corrupt_lock(env: Path) -> None:
    (env / "dvc.lock").write_text("schema: '2.0'\nstages: [\n")


def _half_csv(env: Path) -> None:
    path = env / "data" / "raw" / "churn.csv"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _bad_params(env: Path) -> None:
    (env / "params.yaml").write_text((env / "params.yaml").read_text().replace("rows: 5000", "rows: many"))


def _not_a_model(env: Path) -> None:
    (env / "models" / "model.pkl").write_text("this is not a pickle\n")


@pytest.mark.parametrize("damage, args, names", [
    (None, ("rollback", "nope"), "unknown snapshot tag 'nope'"),
    (None, ("snapshot", "baseline"), "snapshot 'baseline' already exists"),
    (None, ("snapshot", "a/b"), "'a/b' is not allowed"),
    (_corrupt_lock, ("train",), "dvc.lock"),
    (_corrupt_lock, ("snapshot", "x"), "dvc.lock"),
    (_half_csv, ("train",), "data/raw/churn.csv"),
    (_half_csv, ("snapshot", "x"), "data/raw/churn.csv"),
    (_not_a_model, ("train",), "models/model.pkl"),
    (_not_a_model, ("snapshot", "x"), "models/model.pkl"),
    (_bad_params, ("train",), "params.yaml"),
])
def test_bad_input_is_one_line_naming_it_and_changes_nothing(env: Path, capsys: pytest.CaptureFixture[str],
                                                             damage, args, names: str) -> None:
    if damage:
        damage(env)
    before = tree_digests(env)
    code, out, err = run(capsys, "-C", str(env), *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and names in err, err
    assert out == ""
    assert tree_digests(env) == before


@pytest.mark.parametrize("damage, names", [(_corrupt_lock, "dvc.lock"), (_half_csv, "data/raw/churn.csv"),
                                           (_not_a_model, "models/model.pkl")])
def test_status_names_the_broken_file(env: Path, capsys: pytest.CaptureFixture[str], damage, names: str) -> None:
    damage(env)
    before = tree_digests(env)
    code, out, _ = run(capsys, "-C", str(env), "status")
    assert code == 1 and names in out
    assert tree_digests(env) == before


def test_missing_and_non_project_directories_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", str(tmp_path / "missing"), "status")
    assert code == 2 and "missing: no such directory" in err
    (tmp_path / "plain").mkdir()
    code, _, err = run(capsys, "-C", str(tmp_path / "plain"), "recover")
    assert code == 2 and "not an mlops environment" in err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "init", str(tmp_path / "full"))
    assert code == 2 and "not an empty directory" in err
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    code, _, err = run(capsys, "init", str(tmp_path / "tiny"), "--rows", "5")
    assert code == 2 and "data.rows=5 must be >= 100" in err
    assert not (tmp_path / "tiny").exists()


def test_snapshot_and_rollback_through_the_cli(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-C", str(env), "snapshot", "v2", "-m", "second")[0] == 0
    code, out, _ = run(capsys, "-C", str(env), "snapshots", "--json")
    assert [s["tag"] for s in json.loads(out)] == ["baseline", "v2"]
    bitflip(env / "data" / "processed" / "train.csv")
    code, out, _ = run(capsys, "-C", str(env), "rollback", "v2", "--json")
    assert code == 0 and json.loads(out)["ok"]
    assert run(capsys, "-C", str(env), "status")[0] == 0


def test_incident_injects_through_the_plugin_api_and_recover_repairs_it(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digests(env)
    code, out, _ = run(capsys, "-C", str(env), "incident", "data_corruption", "--mode", "duplicates",
                       "--param", "fraction=0.1", "--seed", "3", "--dry-run")
    assert code == 0 and "would" in out and tree_digests(env) == before
    code, out, _ = run(capsys, "-C", str(env), "incident", "data_corruption", "--mode", "duplicates",
                       "--param", "fraction=0.1", "--seed", "3", "--json")
    assert code == 0 and json.loads(out)["touched"] == ["data/raw/churn.csv"]
    assert run(capsys, "-C", str(env), "status")[0] == 1
    assert run(capsys, "-C", str(env), "recover")[0] == 0
    assert tree_digests(env) == before


@pytest.mark.parametrize(("mode", "param", "message"), [
    ("noise", "fraction=nan", "parameter fraction=nan is not a number in (0.0, 1.0]"),
    ("missing_values", "fraction=inf", "parameter fraction=inf is not a finite number in (0.0, 1.0]"),
    ("bitflip", "flips=inf", "parameter flips=inf is not an integer in [1, 1000000]"),
    ("bitflip", "flips=-Infinity", "parameter flips=-inf is not an integer in [1, 1000000]"),
])
def test_incident_refuses_nan_and_infinity_as_one_line_naming_the_value(env: Path, capsys: pytest.CaptureFixture[str],
                                                                        mode: str, param: str, message: str) -> None:
    before = tree_digests(env)
    code, _, err = run(capsys, "-C", str(env), "incident", "data_corruption", "--mode", mode, "--param", param)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert tree_digests(env) == before


def test_incident_refuses_a_nan_hang_instead_of_injecting_another_fault(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digests(env)
    code, _, err = run(capsys, "-C", str(env), "incident", "pipeline_failure", "--mode", "hang", "--param", "seconds=nan")
    assert code == 2 and "parameter seconds=nan is not a number in (0.0, 600.0]" in err
    assert tree_digests(env) == before


def test_incident_params_are_typed_by_the_injectors_schema(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``column=0`` stays the text '0' (a column index) for a str parameter; it used to become the int 0 and be refused."""
    code, out, err = run(capsys, "-C", str(env), "incident", "data_corruption", "--mode", "schema_drift",
                         "--param", "change=drop", "--param", "column=0", "--seed", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["incident"]["params"]["column"] == "0"
    assert "dropped column 'age'" in json.loads(out)["description"]


def test_incident_refuses_an_unknown_mode(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digests(env)
    code, _, err = run(capsys, "-C", str(env), "incident", "data_corruption", "--mode", "bogus")
    assert code == 2 and "bogus" in err and len(err.strip().splitlines()) == 1
    assert tree_digests(env) == before
