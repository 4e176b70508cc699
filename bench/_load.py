"""Benchmark 1: what loading the plugin costs a pytest run that does not use it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from _common import PYTHON, REPO, Figure, clean_env, log, run_timed

HEAVY = ("dvc", "mlflow", "sklearn", "pandas")
GROUP = "1. plugin load cost (subprocesses)"


def make_suite(root: Path, modules: int = 10, tests: int = 5) -> Path:
    """A small suite: plain tests plus a few incident-marked ones (skipped without --mlchaos)."""
    (root / "pytest.ini").write_text("[pytest]\n")
    for m in range(modules):
        body = ["import pytest", ""]
        for t in range(tests):
            body += [f"def test_plain_{t}():", f"    assert {t} + 1 == {t + 1}", ""]
        body += ['@pytest.mark.incident("model_loss", mode="delete")', "def test_marked(ml_env):",
                 "    assert ml_env.detect()", ""]
        (root / f"test_mod{m}.py").write_text("\n".join(body))
    return root


def _pair(args: list[str], cwd: Path, n: int, warmup: int) -> tuple[list[float], list[float]]:
    """Interleaved samples of ``pytest args`` with the plugin and with ``-p no:mlchaos``."""
    on, off = [], []
    env = clean_env()
    pytest = [PYTHON, "-m", "pytest"]
    for i in range(warmup + n):
        t_on, _ = run_timed([*pytest, *args], cwd=cwd, env=env)
        t_off, _ = run_timed([*pytest, "-p", "no:mlchaos", *args], cwd=cwd, env=env)
        if i >= warmup:
            on.append(t_on)
            off.append(t_off)
    return on, off


def imports() -> tuple[list[str], float]:
    """Heavy modules present in ``sys.modules`` after ``import pytest_mlchaos.plugin``, and its import seconds."""
    code = ("import json, sys, time; import pytest; t = time.perf_counter(); import pytest_mlchaos.plugin; "
            "t = time.perf_counter() - t; "
            f"print(json.dumps([[m for m in {HEAVY!r} if m in sys.modules], t]))")
    _, proc = run_timed([PYTHON, "-c", code], cwd=REPO)
    heavy, seconds = json.loads(proc.stdout.strip().splitlines()[-1])
    return heavy, seconds


def run(n: int, warmup: int) -> list[Figure]:
    figures = []
    heavy, import_s = imports()
    figures.append(Figure(GROUP, "heavy modules imported by `import pytest_mlchaos.plugin`", [float(len(heavy))],
                          unit="n", target=0, note=f"imported: {', '.join(heavy) or 'none of ' + ', '.join(HEAVY)}",
                          extra={"modules": heavy}))
    figures.append(Figure(GROUP, "  import pytest_mlchaos.plugin (after pytest)", [import_s]))
    with tempfile.TemporaryDirectory(prefix="mlchaos-bench-load-") as tmp:
        suite = make_suite(Path(tmp))
        for label, args in (("pytest --help", ["--help"]),
                            ("pytest --collect-only -q, 60 tests", ["--collect-only", "-q", "-p", "no:cacheprovider"])):
            log(f"load: {label}")
            on, off = _pair(args, suite, n, warmup)
            ratios = [a / b for a, b in zip(on, off)]
            figures.append(Figure(GROUP, f"{label}: plugin / no plugin", ratios, unit="x", target=1.2,
                                  extra={"with": on, "without": off}))
            figures.append(Figure(GROUP, f"  {label}, with plugin", on))
            figures.append(Figure(GROUP, f"  {label}, -p no:mlchaos", off))
    return figures
