"""A DVC repository against real S3 services, opted in as a user would: ``mlchaos_services = s3`` in its ini.

``pytest --mlchaos`` runs in a clean clone of the get-started gallery repository (a subprocess, as from a
shell). Each test loses every local copy of the raw data (a bitflip in the workspace, the DVC cache and the
local remote emptied), so only the environment's S3 bucket (moto over HTTP, behind the plugin's fault proxy,
reached by dvc-s3) can give it back; then the remote is healthy, down for 2 s, or cuts every transfer.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from gallery_helpers import clone, snapshot

USER_TESTS = '''
import pytest

RAW = "data/data.xml"


def only_s3_holds_the_raw_data(test):
    for mark in (
        pytest.mark.incident("storage_loss", mode="dvc_remote_loss", how="emptied"),
        pytest.mark.incident("storage_loss", mode="dvc_cache_loss", fraction=1.0),
        pytest.mark.incident("data_corruption", mode="bitflip", target=RAW),
    ):
        test = mark(test)
    return test


@only_s3_holds_the_raw_data
def test_no_outage(ml_env):
    assert RAW + ": md5 differs from dvc.lock" in ml_env.detect()


@only_s3_holds_the_raw_data
@pytest.mark.incident("service_outage", mode="remote_down", duration=2.0)
def test_remote_down(ml_env):
    result = ml_env.recover()
    assert result.strategy.startswith("dvc_fetch_s3"), result.message
    assert "waited" in result.message and "dvc_fetch_s3: succeeded on try" in result.message, result.message


@only_s3_holds_the_raw_data
@pytest.mark.incident("service_outage", mode="remote_partial_transfer", cut_after=256, expect="unrecoverable")
def test_partial_transfer(ml_env):
    result = ml_env.recover()
    assert not result.recovered and RAW + ": md5 differs from dvc.lock" in result.message
    assert "dvc_fetch_s3: gave up after" in result.message, result.message
'''


def test_service_outages_on_a_dvc_repository_opted_in_by_its_ini(pytester: pytest.Pytester) -> None:
    repo = clone("get-started", pytester.path / "repo")
    (repo / "pytest.ini").write_text("[pytest]\nmlchaos_services = s3\n")
    (repo / "tests" / "chaos" / "test_outages.py").write_text(USER_TESTS)
    before = snapshot(repo)
    report = pytester.path / "report.json"
    cwd = os.getcwd()
    os.chdir(repo)  # cd your-repo && pytest --mlchaos
    try:
        result = pytester.run(sys.executable, "-m", "pytest", "-p", "no:randomly", "--mlchaos", "--mlchaos-seed=1",
                              f"--mlchaos-report={report}", "tests/chaos/test_outages.py", timeout=300)
    finally:
        os.chdir(cwd)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*configfile: pytest.ini*", "*3 passed*"])
    assert snapshot(repo) == before  # the user's checkout: byte-identical, its own remotes never configured
    tests = {t["nodeid"].rsplit("::", 1)[-1]: t for t in json.loads(report.read_text())["incidents"]}
    verdicts = {name: t["verdict"] for name, t in tests.items()}
    assert verdicts == {"test_no_outage": "restored", "test_remote_down": "restored",
                        "test_partial_transfer": "unrecovered"}
    assert tests["test_no_outage"]["strategy"] == tests["test_remote_down"]["strategy"] == "dvc_fetch_s3+dvc_push"
    mttr = {name: t["time_to_recover"] for name, t in tests.items()}
    print("MTTR (s):", mttr)
    assert mttr["test_remote_down"] > max(1.5, mttr["test_no_outage"]), mttr  # the wait counts
    assert any("(s3://mlchaos-env-" in line and "for 2 s" in line for line in tests["test_remote_down"]["injected"])
