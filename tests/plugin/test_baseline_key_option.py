"""``pytest --mlchaos-baseline-key``: the key a CI cache of the baseline is saved under; it is the store's name."""

from __future__ import annotations

import pytest


def test_the_printed_key_names_the_baseline_the_run_stores(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_it(ml_env):
            pass
        """
    )
    result = chaos.runpytest("--mlchaos-baseline-key")
    assert result.ret == pytest.ExitCode.OK
    (key,) = [line for line in result.stdout.lines if line.strip()]
    assert key.startswith("mlchaos-baseline-toyml-")
    assert not (chaos.path / ".pytest_cache" / "d" / "mlchaos").exists()  # printing builds nothing
    chaos.runpytest("--mlchaos").assert_outcomes(passed=1)
    stores = [p.name for p in (chaos.path / ".pytest_cache" / "d" / "mlchaos").iterdir() if p.is_dir()]
    assert stores == [key.removeprefix("mlchaos-baseline-")]


def test_without_a_project_it_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--mlchaos-baseline-key")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlchaos-baseline-key: no project to key; set mlchaos_project = *"])
