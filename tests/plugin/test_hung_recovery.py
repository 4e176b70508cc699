"""A recovery that hangs is cut at the MTTR budget, with every process it started, and judged."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from pytest_mlchaos.deadline import DeadlineExceeded, call_with_deadline

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="cutting a call needs os.fork (POSIX)")


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for init to reap it counts as gone)."""
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_a_call_that_returns_gives_its_value_and_one_that_raises_raises_here() -> None:
    assert call_with_deadline(lambda: {"recovered": True}, 30) == {"recovered": True}
    with pytest.raises(KeyError, match="backup"):
        call_with_deadline(lambda: {}["backup"], 30)


def test_a_hung_call_is_cut_with_the_processes_it_started_and_its_writes_stay(tmp_path: Path) -> None:
    def hang() -> None:
        helper = subprocess.Popen(["sleep", "600"])
        (tmp_path / "helper.pid").write_text(str(helper.pid))
        (tmp_path / "restored.csv").write_text("x,y\n1,2\n")
        time.sleep(600)

    with pytest.raises(DeadlineExceeded, match="had not returned after 0.5s"):
        call_with_deadline(hang, 0.5)
    assert (tmp_path / "restored.csv").read_text() == "x,y\n1,2\n"  # what it did on disk stays, to be judged
    assert _gone(int((tmp_path / "helper.pid").read_text()))


def test_a_hung_recovery_fails_as_unrecovered_and_names_the_budget(run_one_incident) -> None:
    result = run_one_incident("toyml:hang_project", '"data_corruption", mode="bitflip"', "--mlchaos-max-mttr=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unrecovered*", "*recovery cut: it had not returned after 1s, the MTTR budget*"])


def test_a_hang_fails_even_where_unrecoverable_was_expected(run_one_incident) -> None:
    marker = '"data_corruption", mode="bitflip", expect="unrecoverable"'
    result = run_one_incident("toyml:hang_project", marker, "--mlchaos-max-mttr=1", "--mlchaos-report=r.json")
    result.assert_outcomes(failed=1)
    (record,) = json.loads(Path("r.json").read_text())["incidents"]
    assert record["verdict"] == "unrecovered" and not record["passed"]
    assert 1.0 <= record["time_to_recover"] < 600


def test_a_recovery_within_its_budget_is_judged_as_without_one(run_one_incident) -> None:
    result = run_one_incident("toyml:project", '"data_corruption", mode="bitflip"', "--mlchaos-max-mttr=60")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*restored*"])
