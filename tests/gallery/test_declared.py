"""``DVCProject`` takes what ``dvc.yaml`` declares: metrics (in any format DVC reads, inside directory outs),
plots, ``artifacts:``, ``dvc add``-ed data, ``foreach``/``matrix`` stages; bad options are refused before a build."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from gallery_helpers import clone

from pytest_mlchaos.dvc_project import DVCProject
from pytest_mlchaos.dvc_project.metrics import read_metrics
from pytest_mlchaos.project import ProjectError

Built = Callable[[str], tuple[DVCProject, Path]]


def test_a_metrics_file_inside_a_directory_out_declared_at_top_level_is_the_default(built: Built) -> None:
    project, root = built("get-started")
    art = project.artifacts(root)
    assert art.metrics_file == "eval/metrics.json" and art.metrics_files == ("eval/metrics.json",)
    assert art.data[0] == "data/data.xml"  # dvc add-ed XML is data, the raw data first
    assert art.models == ("model.pkl",)  # from artifacts: type model, not data/features/*.pkl
    assert "data/data.xml" in art.source_files() and "dvc.yaml" in art.source_files()
    assert {"src/prepare.py", "src/evaluate.py", "params.yaml", "data/data.xml.dvc"} <= set(art.source_files())
    assert art.holdout == ("data/features/test.pkl", "data/features/train.pkl")
    assert set(art.volatile) == {f"eval/plots/sklearn/{kind}/{split}.json" for kind in ("roc", "cm", "prc")
                                 for split in ("train", "test")}
    assert "eval/metrics.json" in art.stage_outputs["evaluate"] and art.stage_inputs["evaluate"] == (
        "data/features", "model.pkl", "src/evaluate.py")
    assert project.evaluate(root) == pytest.approx(read_metrics(root / "eval/metrics.json"))
    assert set(project.evaluate(root)) == {"avg_prec.train", "avg_prec.test", "roc_auc.train", "roc_auc.test"}


def test_yaml_metrics_are_read(built: Built) -> None:
    project, root = built("regression")
    assert project.artifacts(root).metrics_file == "metrics.yaml"
    assert set(project.evaluate(root)) == {"rmse", "mae", "r2"}


def test_matrix_and_foreach_stages_with_toml_metrics(built: Built) -> None:
    project, root = built("matrix")
    art = project.artifacts(root)
    assert art.stages == ("split", "train@logreg", "train@forest", "score@logreg", "score@forest")
    assert art.models == ("models/logreg.joblib", "models/forest.joblib")
    assert art.metrics_files == ("scores/logreg.toml", "scores/forest.toml")
    metrics = project.evaluate(root)  # the same names in two files: each prefixed with its file
    assert set(metrics) == {f"scores/{m}.toml:{k}" for m in ("logreg", "forest") for k in ("accuracy", "f1_macro")}
    assert project.detect(root) == []


def test_a_bad_metrics_file_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    repo = clone("get-started", tmp_path / "repo")
    project = DVCProject(repo, metrics_file="eval/metric.json")
    with pytest.raises(ProjectError, match=r"metrics_file='eval/metric.json': no stage of dvc.yaml writes it; "
                                           r"metrics files dvc.yaml declares: eval/metrics.json"):
        project.fingerprint()
    with pytest.raises(ProjectError, match="metrics_file"):
        project.build(tmp_path / "env")
    assert not (tmp_path / "env").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model_files": ["nope.pkl"]}, r"model_files: 'nope.pkl' is not an out of the pipeline; outs: data/data.xml, data/prepared"),
    ({"skip_stages": ["deploy"]}, r"skip_stages: 'deploy' is not a stage of dvc.yaml; stages: prepare, featurize"),
    ({"volatile": ["src/train.py"]}, r"volatile: 'src/train.py' is not an out of the pipeline"),
    ({"model_files": "model.pkl"}, r"model_files='model.pkl': expected a list of paths"),
])
def test_bad_options_name_the_value_and_what_is_allowed(tmp_path: Path, kwargs: dict, message: str) -> None:
    repo = clone("get-started", tmp_path / "repo")
    with pytest.raises(ProjectError, match=message):
        DVCProject(repo, **kwargs).check()


def test_a_metrics_file_the_user_names_inside_a_directory_out_is_accepted(tmp_path: Path) -> None:
    repo = clone("get-started", tmp_path / "repo")
    project = DVCProject(repo, metrics_file="eval/metrics.json")
    assert project.check().metrics == ("eval/metrics.json",)
    assert project.metrics_file == "eval/metrics.json"


@pytest.mark.parametrize(("name", "text"), [("m.json", '{"a": {"b": 1, "c": [2, 3]}, "ok": true}'),
                                            ("m.yaml", "a:\n  b: 1\n  c: [2, 3]\nok: true\n"),
                                            ("m.toml", "ok = true\n[a]\nb = 1\nc = [2, 3]\n")])
def test_metrics_files_are_read_in_every_format_dvc_reads(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    assert read_metrics(tmp_path / name) == {"a.b": 1.0, "a.c.0": 2.0, "a.c.1": 3.0}


def test_a_stage_left_out_is_not_run_and_its_outs_come_from_the_workspace(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = clone("regression", tmp_path / "repo")
    subprocess.run([sys.executable, "src/split.py"], cwd=repo, check=True)  # the user's local run of the stage
    split = repo / "src/split.py"
    split.write_text(split.read_text() + "\nraise SystemExit('split needs the network')\n")
    project = DVCProject(repo, skip_stages=["split"])
    root = tmp_path / "env"
    project.build(root)  # would fail if split ran
    assert "frozen: true" in (root / "dvc.yaml").read_text()
    assert (root / "data/split/train.csv").read_bytes() == (repo / "data/split/train.csv").read_bytes()
    assert project.detect(root) == [] and set(project.evaluate(root)) == {"rmse", "mae", "r2"}
    (root / "data/split/test.csv").unlink()
    assert project.recover(root, []).strategy == "dvc_checkout"


def test_the_builds_metrics_run_is_reused_in_any_process_only_for_identical_inputs(
        env_of: Callable[[str], tuple[DVCProject, Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_mlchaos.dvc_project import metrics, project as project_module

    project, root = env_of("regression")
    expected = project.evaluate(root)
    metrics.MEMO.clear()  # as in a new process

    def no_run(*args: object) -> None:
        raise AssertionError("the metrics stage ran")

    monkeypatch.setattr(project_module, "run_in_scratch", no_run)
    assert DVCProject(project.source).evaluate(root) == expected  # DVC's run cache semantics: same inputs
    test_csv = root / "data/split/test.csv"
    test_csv.write_text(test_csv.read_text().replace("\n", "\n", 1) + "\n")
    with pytest.raises(AssertionError, match="the metrics stage ran"):
        DVCProject(project.source).evaluate(root)
