"""A DVC repository against real S3 services, opted in as a user would: ``mlchaos_services = s3`` in its ini.

``pytest --mlchaos`` runs in a clean clone of the get-started gallery repository (a subprocess, as from a
shell). Each test loses every local copy of the raw data (a bitflip in the workspace, the DVC cache and the
local remote emptied), so only the environment's S3 bucket (moto over HTTP, behind the plugin's fault proxy,
reached by dvc-s3) can give it back; then the remote is healthy, down for 4 s, or cuts every transfer. The
outage counts from injection, and the local steps come first: 4 s keeps the remote down when the S3 step
starts even on a loaded machine (2 s did not, once, under the full suite with -n 2).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from gallery_helpers import clone, snapshot

USER_TESTS = '''
import re

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
@pytest.mark.incident("service_outage", mode="remote_down", duration=4.0)
def test_remote_down(ml_env):
    result = ml_env.recover()
    assert result.strategy.startswith("dvc_fetch_s3"), result.message
    assert "dvc_fetch_s3: succeeded on try" in result.message, result.message
    waited = float(re.search(r"waited ([0-9.]+)s for services", result.message).group(1))
    assert result.seconds >= waited > 0  # the waits are inside the recovery: they count in its MTTR


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
    assert mttr["test_remote_down"] >= 0.25, mttr  # at least the first wait of the retry policy
    assert any("(s3://mlchaos-env-" in line and "for 4 s" in line for line in tests["test_remote_down"]["injected"])
