"""Model files that are not the locked one are loaded in a forked child of a warm helper process."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

from project_under_test import modelcheck
from project_under_test.layout import MODEL


class _Aborts:
    def __reduce__(self):
        return (os.abort, ())


class _Sleeps:
    def __reduce__(self):
        return (time.sleep, (60,))


def test_the_isolated_answer_is_the_in_process_answer(template: Path, tmp_path: Path) -> None:
    good = template / MODEL
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(good.read_bytes()[:100_000])
    assert modelcheck.load_and_predict_isolated(good, MODEL) is None
    answer = modelcheck.load_and_predict_isolated(truncated, MODEL)
    assert answer is not None and answer == modelcheck.load_and_predict(truncated, MODEL)
    assert "not a loadable model" in answer


def test_a_crash_while_unpickling_is_the_verdict_and_the_helper_carries_on(template: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.pkl"
    bomb.write_bytes(pickle.dumps(_Aborts()))
    assert modelcheck.load_and_predict_isolated(bomb, MODEL) == "loading the model crashed the interpreter (signal 6)"
    assert modelcheck.load_and_predict_isolated(template / MODEL, MODEL) is None


def test_a_hang_is_cut_off_at_the_timeout(tmp_path: Path) -> None:
    sleeper = tmp_path / "sleeper.pkl"
    sleeper.write_bytes(pickle.dumps(_Sleeps()))
    assert modelcheck.load_and_predict_isolated(sleeper, MODEL, timeout=0.5) == "loading the model hung for 0.5 s"


def test_a_killed_helper_is_replaced(template: Path) -> None:
    modelcheck.load_and_predict_isolated(template / MODEL, MODEL)
    helper = modelcheck._HELPER._proc
    assert helper is not None
    helper.kill()
    helper.wait()
    assert modelcheck.load_and_predict_isolated(template / MODEL, MODEL) is None
    assert modelcheck._HELPER._proc is not helper


def test_the_helper_exits_when_its_caller_closes_it(template: Path) -> None:
    modelcheck.load_and_predict_isolated(template / MODEL, MODEL)
    helper = modelcheck._HELPER._proc
    assert helper is not None and helper.poll() is None
    modelcheck._HELPER.close()
    assert helper.poll() is not None
