"""``cd your-repo && pytest --mlchaos``: the DVC repository pytest runs in is tested, with nothing configured."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from gallery_helpers import clone, snapshot


def _run_from(pytester: pytest.Pytester, where: Path, *args: str) -> pytest.RunResult:
    import os

    cwd = os.getcwd()
    os.chdir(where)
    try:
        return pytester.run(sys.executable, "-m", "pytest", "-p", "no:randomly", *args, timeout=600)
    finally:
        os.chdir(cwd)


def test_the_repository_is_found_tested_and_left_as_it_was(pytester: pytest.Pytester) -> None:
    repo = clone("tabular-formats", pytester.path / "repo")
    before = snapshot(repo)
    result = _run_from(pytester, repo, "--mlchaos", "--mlchaos-seed=3")
    result.stdout.fnmatch_lines([f"mlchaos: seed=3 (option), project=DVC repository {repo} (the nearest .dvc/ above "
                                 "the rootdir)*", "*3 passed*"])
    assert result.ret == 0
    assert snapshot(repo) == before
    stores = list((repo / ".pytest_cache/d/mlchaos").glob("repo-*/env"))
    assert len(stores) == 1 and not (stores[0] / ".pytest_cache").exists()
    again = _run_from(pytester, repo / "tests" / "chaos", "--mlchaos", "-p", "no:cacheprovider")
    again.stdout.fnmatch_lines([f"*project=DVC repository {repo} (the nearest .dvc/ above the rootdir)*"])


def test_a_second_run_reuses_the_cached_baseline(pytester: pytest.Pytester) -> None:
    repo = clone("regression", pytester.path / "repo")
    assert _run_from(pytester, repo, "--mlchaos", "-k", "lock_file").ret == 0
    (record,) = (repo / ".pytest_cache/d/mlchaos").glob("repo-*/mlchaos-baseline.json")
    built = record.stat().st_mtime_ns
    assert _run_from(pytester, repo, "--mlchaos", "-k", "lock_file").ret == 0  # a new seed file, same baseline
    assert record.stat().st_mtime_ns == built


def test_a_bad_ini_value_is_a_usage_error_before_anything_is_built(pytester: pytest.Pytester) -> None:
    repo = clone("get-started", pytester.path / "repo")
    (repo / "pytest.ini").write_text("[pytest]\nmlchaos_dvc_metrics = eval/metric.json\n")
    result = _run_from(pytester, repo, "--mlchaos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*metrics_file='eval/metric.json': no stage of dvc.yaml writes it; metrics files dvc.yaml declares: "
        "eval/metrics.json*mlchaos_dvc_metrics*",
    ])
    assert not (repo / ".pytest_cache/d/mlchaos").exists()


def test_the_hook_the_ini_key_and_the_fixture_still_win(pytester: pytest.Pytester) -> None:
    repo = clone("regression", pytester.path / "repo")
    (repo / "tests/chaos/conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture(scope='session')\ndef mlchaos_project():\n    raise RuntimeError('the fixture')\n")
    result = _run_from(pytester, repo, "--mlchaos", "-k", "lock_file")
    result.stdout.fnmatch_lines(["*RuntimeError: the fixture*"])
    (repo / "tests/chaos/conftest.py").write_text(
        "def pytest_mlchaos_make_project(config):\n    raise RuntimeError('the hook')\n")
    result = _run_from(pytester, repo, "--mlchaos", "-k", "lock_file")
    assert "RuntimeError: the hook" in result.stdout.str() + result.stderr.str()
    (repo / "tests/chaos/conftest.py").unlink()
    (repo / "pytest.ini").write_text("[pytest]\nmlchaos_project = nowhere_to_be_found:project\n")
    result = _run_from(pytester, repo, "--mlchaos")
    result.stderr.fnmatch_lines(["*mlchaos_project = 'nowhere_to_be_found:project': importing 'nowhere_to_be_found' failed*"])


def test_outside_a_dvc_repository_nothing_is_found(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n\n@pytest.mark.incident('model_loss')\ndef test_x(ml_env):\n    pass\n")
    result = pytester.runpytest("--mlchaos")
    result.stdout.fnmatch_lines(["*has no project to test*"])


def test_a_dvc_repository_without_a_pipeline_at_its_root_is_named(pytester: pytest.Pytester) -> None:
    (pytester.path / ".dvc").mkdir()
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--mlchaos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*found the DVC repository * but it has no dvc.yaml at its root: set the ini key*"])

