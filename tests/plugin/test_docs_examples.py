"""Every Python example of the README and docs/ runs, as written, so none can rot.

Each ```python block is preceded by a comment that says how it runs:

- ``<!-- example: test [project=reference] -->``: a test module, run with ``pytest --mlchaos`` on the toy
  project (or the reference project);
- ``<!-- example: test gallery=NAME -->``: the same, inside a clean clone of a gallery repository;
- ``<!-- example: file PATH gallery=NAME [under=DIR] [ini=SPEC] -->``: a file that plugs a DVC
  repository in (a conftest, a module named by ``mlchaos_project``), written at ``PATH`` beside a
  clone of the gallery repository (at ``DIR`` when given) and run on one incident test;
- ``<!-- example: conftest -->``: a ``conftest.py`` for a run on the toy project;
- ``<!-- example: project -->``: a module whose ``project`` must be an ``MLProject``;
- ``<!-- example: signature NAME -->``: a call signature that must match ``NAME``'s;
- ``<!-- example: script setup=NAME -->``: a script, run in a directory ``SETUPS[NAME]`` prepared.

A block without such a comment fails the test that reads its file.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import runpy
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
GALLERY_HELPERS = ROOT / "tests" / "gallery"

BLOCK = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
MARK = re.compile(r"<!-- example: (?P<kind>[\w-]+)(?P<args>[^>]*?) ?-->")


@dataclass(frozen=True)
class Example:
    where: str  # file:line
    kind: str
    args: tuple[str, ...]
    code: str

    def option(self, name: str) -> str | None:
        return next((a.split("=", 1)[1] for a in self.args if a.startswith(f"{name}=")), None)


def examples_of(path: Path, root: Path = ROOT) -> tuple[list[Example], list[str]]:
    """The marked Python blocks of ``path``, and where its unmarked ones are (named relative to ``root``)."""
    text = path.read_text(encoding="utf-8")
    found, unmarked = [], []
    for block in BLOCK.finditer(text):
        if block.group("lang") != "python":
            continue
        line = text.count("\n", 0, block.start()) + 1
        where = f"{path.relative_to(root)}:{line}"
        before = text[: block.start()].rstrip().rsplit("\n", 1)[-1].strip()
        mark = MARK.fullmatch(before)
        if mark is None:
            unmarked.append(where)
            continue
        code = textwrap.dedent("\n".join(ln[len(block.group("indent")) :] for ln in block.group("body").split("\n")))
        found.append(Example(where, mark.group("kind"), tuple(mark.group("args").split()), code))
    return found, unmarked


ALL = [example for path in DOCS for example in examples_of(path)[0]]


def by_kind(*kinds: str, gallery: bool = False) -> list[object]:
    """The examples of these kinds (those that run in a gallery clone, or the others), as test params."""
    return [pytest.param(e, id=e.where) for e in ALL if e.kind in kinds and bool(e.option("gallery")) == gallery]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_says_how_it_runs(path: Path) -> None:
    examples, unmarked = examples_of(path)
    assert not unmarked, f"python blocks without an '<!-- example: ... -->' line before them: {unmarked}"
    known = {"test", "file", "conftest", "project", "signature", "script"}
    assert {e.kind for e in examples} <= known


def test_the_docs_have_examples_of_every_kind() -> None:
    assert len(ALL) >= 15
    assert {e.kind for e in ALL} == {"test", "file", "conftest", "project", "signature", "script"}


# -- on the toy project, in process ------------------------------------------------------------------

HYPOTHESIS_CONFTEST = """
from hypothesis import settings

settings.register_profile("docs", max_examples=5, deadline=None)  # examples without their own settings
settings.load_profile("docs")
"""


PROJECTS = {None: "toyml:project", "reference": "project_under_test.chaos:project"}


@pytest.mark.parametrize("example", by_kind("test"))
def test_a_test_example_passes(pytester: pytest.Pytester, use_project, example: Example) -> None:
    project = example.option("project")
    assert project in PROJECTS, f"{example.where}: project={project!r}; known: {sorted(map(str, PROJECTS))}"
    use_project(PROJECTS[project])
    pytester.makeconftest(HYPOTHESIS_CONFTEST)
    pytester.makepyfile(test_example=example.code)
    args = ("--mlchaos", "-p", "no:randomly", "--hypothesis-seed=0")
    # The reference project imports MLflow and DVC; an in-process run would drop their modules after it and break
    # SQLAlchemy and importlib.metadata for the later pytester runs of this worker: a subprocess of its own.
    result = pytester.runpytest_subprocess(*args) if project else pytester.runpytest(*args)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1 and not outcomes.get("failed") and not outcomes.get("errors"), outcomes


@pytest.mark.parametrize("example", by_kind("conftest"))
def test_a_conftest_example_extends_a_real_run(pytester: pytest.Pytester, use_project, example: Example) -> None:
    use_project("toyml:project")
    pytester.makeconftest(example.code)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_it(ml_env):
            pass
        """)
    result = pytester.runpytest("--mlchaos", "--mlchaos-report=report.json")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "report.json").read_text())
    if "def pytest_mlchaos_report" in example.code:
        assert report["extensions"], "the hook added nothing to the report"


@pytest.mark.parametrize("example", by_kind("project"))
def test_a_project_example_is_an_mlproject(tmp_path: Path, example: Example) -> None:
    from pytest_mlchaos.project import ensure_project

    module = tmp_path / "example_project.py"
    module.write_text(example.code)
    namespace = runpy.run_path(str(module), run_name=module.stem)
    project = ensure_project(namespace["project"], example.where)
    assert isinstance(project.name, str) and project.fingerprint()


@pytest.mark.parametrize("example", by_kind("signature"))
def test_a_signature_example_matches_the_code(example: Example) -> None:
    (name,) = example.args
    module, _, attr = name.rpartition(".")
    obj = getattr(importlib.import_module(module), attr)
    signature = inspect.signature(obj)
    bare = signature.replace(parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
                             return_annotation=signature.empty)  # the docs show names and defaults
    assert " ".join(example.code.split()) == f"{attr}{bare}"


# -- scripts, in a directory prepared for them -------------------------------------------------------


def _game_day(cwd: Path) -> None:
    """A copy of a small project: a CSV and a pickled model."""
    (cwd / "game-day" / "data").mkdir(parents=True)
    (cwd / "game-day" / "models").mkdir()
    rows = "\n".join(f"{i},{i * 0.5},{i % 2}" for i in range(50))
    (cwd / "game-day" / "data" / "train.csv").write_text(f"x1,x2,label\n{rows}\n")
    (cwd / "game-day" / "models" / "model.pkl").write_bytes(b"\x80\x04N.")


def _two_reports(cwd: Path) -> None:
    """Reports of one seed from one worker and from two: the same apart from timings."""
    from pytest_mlchaos.gate import Verdict
    from pytest_mlchaos.incidents import Incident
    from pytest_mlchaos.outcome import IncidentOutcome
    from pytest_mlchaos.report.document import RunInfo, build_report

    def outcome(mttr: float) -> IncidentOutcome:
        return IncidentOutcome(nodeid="t.py::test_it", incidents=(Incident("model_loss", "delete", seed=1),),
                               verdict=Verdict.RESTORED, passed=True, strategy="backup", time_to_recover=mttr)

    for name, workers, mttr in (("n0.json", 0, 0.4), ("n2.json", 2, 0.7)):
        report = build_report(RunInfo(seed=5, workers=workers, duration=mttr * 3), [outcome(mttr)])
        (cwd / name).write_text(json.dumps(report))


SETUPS: dict[str, Callable[[Path], None]] = {"game-day": _game_day, "two-reports": _two_reports}


@pytest.mark.parametrize("example", by_kind("script"))
def test_a_script_example_runs(tmp_path: Path, example: Example) -> None:
    setup = example.option("setup")
    assert setup in SETUPS, f"{example.where}: setup={setup!r}; known: {sorted(SETUPS)}"
    SETUPS[setup](tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    (tmp_path / "example.py").write_text(example.code)
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {p: p.read_bytes() for p in before} == before  # dry runs and reads only: nothing it was given changed


# -- in clean clones of the gallery, in a subprocess, as a user runs them ----------------------------


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pytest cache for the gallery runs of this module, so a baseline built once is reused."""
    return tmp_path_factory.mktemp("docs-cache")


def _clone(name: str, dest: Path) -> Path:
    sys.path.insert(0, str(GALLERY_HELPERS))
    try:
        from gallery_helpers import clone
    finally:
        sys.path.remove(str(GALLERY_HELPERS))
    return clone(name, dest)


def _pytest(cwd: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MLFLOW_", "DVC_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "--mlchaos", "-p", "no:randomly", "-o",
                           f"cache_dir={cache}", *args], cwd=cwd, env=env, capture_output=True, text=True)


ONE_INCIDENT = """
import pytest


@pytest.mark.incident("data_corruption", mode="bitflip", target="data/data.xml")
def test_a_bitflip_is_repaired(ml_env):
    assert ml_env.detect()
"""


@pytest.mark.parametrize("example", by_kind("test", "file", gallery=True))
def test_a_gallery_example_passes(tmp_path: Path, shared_cache: Path, example: Example) -> None:
    gallery = example.option("gallery")
    assert gallery is not None
    work = tmp_path / "work"
    under = example.option("under")
    repo = _clone(gallery, work / under if under else work)
    if example.kind == "test":
        first = example.code.splitlines()[0]
        target = repo / (first.removeprefix("# ").strip() if first.startswith("# tests/") else "test_example.py")
        target.write_text(example.code)
        done = _pytest(repo, shared_cache, str(target.relative_to(repo)))
    else:
        (path,) = (a for a in example.args if "=" not in a)
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(example.code)
        test_dir = (work / path).parent if path.endswith("conftest.py") else work
        (test_dir / "test_docs_example.py").write_text(ONE_INCIDENT)
        if example.option("ini"):
            (work / "pytest.ini").write_text(f"[pytest]\nmlchaos_project = {example.option('ini')}\npythonpath = .\n")
        done = _pytest(work, shared_cache, str((test_dir / "test_docs_example.py").relative_to(work)))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]  # "==== 4 passed in 9.1s ===="
    assert re.search(r"\b[1-9]\d* passed\b", summary) and not re.search(r"failed|error|skipped", summary), summary


def test_extraction_sees_indented_blocks_and_their_marks(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("1. item\n\n   <!-- example: project -->\n   ```python\n   project = 1\n   ```\n\n```python\nx = 1\n```\n")
    examples, unmarked = examples_of(doc, root=tmp_path)
    assert [(e.kind, e.code) for e in examples] == [("project", "project = 1\n")]
    assert unmarked == ["doc.md:8"]
