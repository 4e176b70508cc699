"""The public API: what ``pytest_mlchaos`` exports, what loading the plugin imports, what the wheel holds."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import pytest_mlchaos

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pytest_mlchaos"
HEAVY = ("dvc", "mlflow", "sklearn", "pandas", "numpy", "pyarrow")
USER_NAMES = ("RecoveryResult", "Attempt", "MLProject", "Artifacts", "Incident", "IncidentError", "inject", "Verdict",
              "Thresholds", "DVCProject")


def test_the_package_top_exports_what_users_write() -> None:
    assert set(USER_NAMES) <= set(pytest_mlchaos.__all__)
    for name in pytest_mlchaos.__all__:
        assert getattr(pytest_mlchaos, name) is not None, name
    from pytest_mlchaos.dvc_project import DVCProject
    from pytest_mlchaos.incidents import Incident

    assert pytest_mlchaos.DVCProject is DVCProject and pytest_mlchaos.Incident is Incident
    assert set(USER_NAMES) <= set(dir(pytest_mlchaos))
    with pytest.raises(AttributeError, match="no attribute 'DVCProjet'"):
        pytest_mlchaos.DVCProjet  # noqa: B018


def _imported_after(code: str) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout)


def test_loading_the_plugin_and_the_api_imports_no_dvc_mlflow_sklearn_or_pandas() -> None:
    assert _imported_after("import pytest_mlchaos.plugin") == []
    assert _imported_after(f"from pytest_mlchaos import {', '.join(USER_NAMES)}") == []
    assert _imported_after("import pytest_mlchaos.dvc_project") == []


def test_the_probe_sees_a_heavy_import() -> None:  # else the test above could pass on a broken probe
    assert {"numpy", "pandas"} <= set(_imported_after("import pytest_mlchaos, pandas"))


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_every_module_says_what_it_exports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    exported = [node for node in tree.body
                if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets))
                or (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__")]
    assert exported, f"{path.relative_to(ROOT)} has no __all__"
    names = ast.literal_eval(exported[0].value)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    defined.add(target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.If):  # TYPE_CHECKING imports, served lazily by a module __getattr__
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom):
                    defined.update(alias.asname or alias.name for alias in sub.names)
    assert sorted(set(names) - defined) == [], "names in __all__ that the module does not define"


def test_the_wheel_holds_only_the_plugin(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True)  # -v: the build backend's own output, warnings included
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("pytest_mlchaos-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
        entry_points = zf.read(next(n for n in zf.namelist() if n.endswith("entry_points.txt"))).decode()
    assert tops == {"pytest_mlchaos", f"pytest_mlchaos-{pytest_mlchaos.__version__}.dist-info"}
    assert "mlops" not in entry_points and "mlchaos = pytest_mlchaos.plugin" in entry_points
    assert "Deprecat" not in done.stdout + done.stderr
