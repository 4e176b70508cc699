"""End to end with ``pytester``: a conftest plugs ``fixtures/foreign-dvc`` in via ``DVCProject``, and the
plugin injects real incidents, lets the adapter's recovery manager repair them, and verifies on its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_mlchaos.dvc_project import DVCProject
from pytest_mlchaos.env import build_baseline
from pytest_mlchaos.session import baseline_key

FOREIGN = Path(__file__).resolve().parents[2] / "fixtures" / "foreign-dvc"

CONFTEST = f"""
import pytest

from pytest_mlchaos.dvc_project import DVCProject


@pytest.fixture(scope="session")
def mlchaos_project():
    return DVCProject({str(FOREIGN)!r})
"""

INCIDENTS = """
import pytest


@pytest.mark.incident("data_corruption", mode="bitflip", flips=3)
def test_silent_bitflip_in_the_raw_data(ml_env):
    assert ml_env.detect() == ["data/raw.csv: md5 differs from dvc.lock"]


@pytest.mark.incident("data_corruption", mode="missing_values", target="data/train.csv", fraction=0.2,
                      label="churned")
def test_missing_values_in_the_training_split(ml_env):
    assert "data/train.csv: md5 differs from dvc.lock" in ml_env.detect()


@pytest.mark.incident("model_loss", mode="corrupt")
def test_corrupt_model(ml_env):
    assert ml_env.project.check_model(ml_env.root) is not None
"""


class _Prebuilt(DVCProject):
    """The fixture project, whose ``build`` copies the repo the session already built with ``DVCProject.build``."""

    def __init__(self, template: Path) -> None:
        super().__init__(FOREIGN)
        self.template = template

    def build(self, root: Path) -> None:
        shutil.copytree(self.template, root, symlinks=True)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory, foreign_built: Path) -> Path:
    """One pytest cache for the inner runs, seeded with the session's build of the fixture repo.

    The inner runs find the baseline there (same name and fingerprint), so the foreign repo is
    built once per session. Should the store layout change, they build it themselves: slower, same result.
    """
    cache = tmp_path_factory.mktemp("foreign-e2e-cache")
    project = _Prebuilt(foreign_built)
    # Load the model here first: in-process pytester runs drop the modules they import, and numpy's
    # C extension cannot be imported twice in one process.
    assert project.check_model(foreign_built) is None
    key = baseline_key(project)
    baseline = build_baseline(project, cache / "d" / "mlchaos" / f"{project.name}-{key}", key)
    assert baseline.manifest and not baseline.cached
    return cache


@pytest.fixture
def foreign(pytester: pytest.Pytester, shared_cache: Path) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(f"[pytest]\ncache_dir = {shared_cache}\n")
    return pytester


def test_data_and_model_incidents_on_a_foreign_dvc_repo_are_restored(foreign: pytest.Pytester,
                                                                      shared_cache: Path) -> None:
    (record_file,) = shared_cache.glob("d/mlchaos/foreign-dvc-*/mlchaos-baseline.json")
    seeded = record_file.stat().st_mtime_ns
    foreign.makepyfile(INCIDENTS)
    report = foreign.path / "report.json"
    result = foreign.runpytest("--mlchaos", "--mlchaos-seed=5", f"--mlchaos-report={report}")
    result.assert_outcomes(passed=3)
    assert record_file.stat().st_mtime_ns == seeded  # the inner run used the session's build
    records = {r["nodeid"].split("::")[-1]: r for r in json.loads(report.read_text())["incidents"]}
    assert {name: r["verdict"] for name, r in records.items()} == {
        "test_silent_bitflip_in_the_raw_data": "restored",
        "test_missing_values_in_the_training_split": "restored",
        "test_corrupt_model": "restored",
    }
    for record in records.values():
        assert record["recovery_claimed"] is True
        assert record["strategy"] == "dvc_checkout"
        assert record["metrics"] and all(m["relative_drop"] == 0 for m in record["metrics"])
    assert {m["name"] for m in records["test_corrupt_model"]["metrics"]} == {"accuracy", "f1", "roc_auc"}


def test_an_incident_dvc_cannot_repair_is_reported_unrecovered(foreign: pytest.Pytester) -> None:
    foreign.makeconftest(CONFTEST + '''

def _lose_stores(ctx, incident, targets):
    import shutil
    for rel in (".dvc/cache", ".dvc-remote"):
        shutil.rmtree(ctx.path(rel))
    return "deleted the DVC cache and remote"


def pytest_mlchaos_register_incidents(registry):
    registry.register_function("storage_loss_test", "cache_and_remote", _lose_stores,
                               doc="The DVC cache and the local remote deleted", targets=lambda ctx, i: [])
''')
    foreign.makepyfile(
        """
        import pytest

        @pytest.mark.incident("storage_loss_test", mode="cache_and_remote")
        @pytest.mark.incident("data_corruption", mode="bitflip")
        def test_raw_data_with_no_copy_left(ml_env):
            pass

        @pytest.mark.incident("storage_loss_test", mode="cache_and_remote")
        @pytest.mark.incident("data_corruption", mode="bitflip", expect="unrecoverable")
        def test_expected(ml_env):
            pass
        """
    )
    result = foreign.runpytest("--mlchaos", "--mlchaos-seed=5")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*mlchaos: unrecovered: the recovery manager reported that it could not recover*data/raw.csv: md5 differs*",
        "*strategies tried: dvc_fetch failed*",
    ])


def test_pipeline_and_storage_incidents_on_a_foreign_dvc_repo_are_restored(foreign: pytest.Pytester) -> None:
    foreign.makepyfile(
        """
        import pytest

        @pytest.mark.incident("pipeline_failure", mode="partial_write", stage="prepare")
        def test_partial_write(ml_env):
            assert ml_env.detect()

        @pytest.mark.incident("storage_loss", mode="dvc_cache_corruption", target="model.pkl")
        @pytest.mark.incident("model_loss", mode="delete")
        def test_model_lost_and_its_cache_object_corrupt(ml_env):
            assert ml_env.detect()

        @pytest.mark.incident("pipeline_failure", mode="stale_lock", lock="dvc_lock")
        def test_half_written_dvc_lock(ml_env):
            assert ml_env.detect() == ["dvc.lock: differs from git HEAD"]
        """
    )
    report = foreign.path / "report.json"
    result = foreign.runpytest("--mlchaos", "--mlchaos-seed=9", f"--mlchaos-report={report}")
    result.assert_outcomes(passed=3)
    records = {r["nodeid"].split("::")[-1]: r for r in json.loads(report.read_text())["incidents"]}
    assert {name: (r["verdict"], r["strategy"]) for name, r in records.items()} == {
        "test_partial_write": ("restored", "dvc_checkout"),
        "test_model_lost_and_its_cache_object_corrupt": ("restored", "purge_corrupt_cache+dvc_fetch"),
        "test_half_written_dvc_lock": ("restored", "git_restore"),
    }


def test_the_ini_key_can_name_a_dvc_project_and_the_report_names_it(pytester: pytest.Pytester,
                                                                    shared_cache: Path) -> None:
    pytester.makepyfile(foreign_chaos=f"from pytest_mlchaos.dvc_project import DVCProject\n\n"
                                      f"project = DVCProject({str(FOREIGN)!r})\n")
    pytester.makeini(f"[pytest]\ncache_dir = {shared_cache}\npythonpath = .\nmlchaos_project = foreign_chaos:project\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_model_deleted(ml_env):
            assert ml_env.detect() == ["model.pkl: missing"]
        """
    )
    report = pytester.path / "report.json"
    result = pytester.runpytest("--mlchaos", f"--mlchaos-report={report}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["mlchaos: seed=*project=foreign_chaos:project*"])
    document = json.loads(report.read_text())
    assert document["run"]["project"]["name"] == "foreign-dvc"
    assert [r["verdict"] for r in document["incidents"]] == ["restored"]
