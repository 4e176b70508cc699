"""``scoped_environ``: what DVC and MLflow calls set in ``os.environ`` is put back exactly."""

from __future__ import annotations

import os

import pytest

from project_under_test.envvars import scoped_environ


def test_set_unset_and_untouched_variables_come_back_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCHAOS_T_KEPT", "old")
    monkeypatch.setenv("MLCHAOS_T_GONE", "there")
    monkeypatch.delenv("MLCHAOS_T_NEW", raising=False)
    with scoped_environ({"MLCHAOS_T_KEPT": "new", "MLCHAOS_T_NEW": "1"}, unset=["MLCHAOS_T_GONE"]):
        assert (os.environ["MLCHAOS_T_KEPT"], os.environ["MLCHAOS_T_NEW"]) == ("new", "1")
        assert "MLCHAOS_T_GONE" not in os.environ
    assert os.environ["MLCHAOS_T_KEPT"] == "old" and os.environ["MLCHAOS_T_GONE"] == "there"
    assert "MLCHAOS_T_NEW" not in os.environ


def test_the_environment_is_restored_when_the_block_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCHAOS_T_KEPT", "0")
    with pytest.raises(RuntimeError, match="boom"):
        with scoped_environ({"MLCHAOS_T_KEPT": "1"}):
            raise RuntimeError("boom")
    assert os.environ["MLCHAOS_T_KEPT"] == "0"


def test_init_repo_puts_back_a_users_analytics_setting(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``init_repo`` used to leave DVC_NO_ANALYTICS=1 behind when the user had set it to something else."""
    from project_under_test import dvcops, gitops

    monkeypatch.setenv("DVC_NO_ANALYTICS", "0")
    gitops.init(tmp_path)
    dvcops.init_repo(tmp_path)
    assert os.environ["DVC_NO_ANALYTICS"] == "0"
    assert (tmp_path / ".dvc" / "config").is_file()
