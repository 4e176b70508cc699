"""``--mlchaos-html``: the page is written at the end of a real run; a bad path stops the run before any test."""

from __future__ import annotations

import pytest

SUITE = """
import pytest

@pytest.mark.incident("model_loss", mode="delete")
def test_model(ml_env):
    assert ml_env.detect()

@pytest.mark.incident("model_loss", mode="delete", expect="unrecoverable")
def test_wrongly_expects_unrecoverable(ml_env):
    pass
"""


def test_the_html_page_is_written_with_the_runs_results(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_suite=SUITE)
    page = chaos.path / "out" / "report.html"
    result = chaos.runpytest("--mlchaos", "--mlchaos-seed=5", f"--mlchaos-html={page}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"mlchaos html: {page}"])
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<h2>Failures (1)</h2>" in text and "test_wrongly_expects_unrecoverable" in text
    assert "seed <b>5</b>" in text


def test_the_ini_key_names_the_page(chaos: pytest.Pytester) -> None:
    ini = chaos.path / "tox.ini"  # the chaos fixture's ini file
    ini.write_text(ini.read_text().rstrip("\n") + "\nmlchaos_html = page.html\n")
    chaos.makepyfile(test_suite=SUITE)
    chaos.runpytest("--mlchaos").assert_outcomes(passed=1, failed=1)
    assert "test_model" in (chaos.path / "page.html").read_text(encoding="utf-8")


def test_a_directory_as_html_path_is_a_usage_error_before_any_test(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_suite=SUITE)
    (chaos.path / "adir").mkdir()
    result = chaos.runpytest("--mlchaos", "--mlchaos-html=adir")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlchaos-html=adir: is a directory; give a file path inside it*"])
    assert "passed" not in result.stdout.str()
