"""The standalone API across the whole catalogue: validation, containment, dry runs, seeding, the catalogue text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mlchaos_testenv import ARTIFACTS, CATEGORICAL, DATA, MODEL, NUMERIC, stage_runner, tree_digest

from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.incidents import ContainmentError, Incident, IncidentError, Param, builtin_registry, inject
from pytest_mlchaos.incidents.catalogue import describe

REGISTRY = builtin_registry()
# the modes that damage files (service outages act on a proxy and need services: tests/services)
ALL = [(kind, mode) for kind in REGISTRY.kinds() for mode in REGISTRY.modes(kind)
       if not REGISTRY.get(kind, mode).requires_services]
QUICK = {("pipeline_failure", "hang"): {"seconds": 0.01}}
# modes whose damage depends on the seed (the others are deterministic by design: delete, cut at a fraction, ...)
SEEDED = [
    ("data_corruption", "noise", {}), ("data_corruption", "missing_values", {}), ("data_corruption", "duplicates", {}),
    ("data_corruption", "label_flip", {}), ("data_corruption", "bitflip", {}), ("data_corruption", "schema_drift", {}),
    ("model_loss", "corrupt", {}), ("model_loss", "wrong_model", {}), ("model_loss", "wrong_model", {"variant": "degraded"}),
    ("storage_loss", "dvc_cache_corruption", {}), ("storage_loss", "backup_loss", {"fraction": 0.5}),
    ("storage_loss", "mlflow_store_corruption", {"where": "pages"}), ("pipeline_failure", "partial_write", {}),
]


def signature(root: Path, mode: str) -> dict[str, Any]:
    """What the damage is: every file's content, except a re-pickled model, which is judged by its predictions.

    scikit-learn's tree node arrays carry uninitialised struct padding, so two pickles of the same
    forest differ in those bytes; their predictions do not.
    """
    digest: dict[str, Any] = tree_digest(root, relocatable=True)
    if mode == "wrong_model":
        import hashlib

        import joblib
        import pandas as pd

        frame = pd.read_csv(root / "backups" / DATA)[NUMERIC + CATEGORICAL]
        proba = joblib.load(root / MODEL).predict_proba(frame)
        digest[MODEL] = hashlib.sha256(proba.tobytes()).hexdigest()
    return digest


def apply(root: Path, kind: str, mode: str, seed: int | None = 1, dry_run: bool = False, **params: Any):
    params = {**QUICK.get((kind, mode), {}), **params}
    return inject(root, Incident(kind, mode, params, seed=seed), artifacts=ARTIFACTS, dry_run=dry_run,
                  run_stage=stage_runner(root))


@pytest.mark.parametrize(("kind", "mode"), ALL, ids=[f"{k}/{m}" for k, m in ALL])
def test_the_same_seed_gives_the_same_damage(make_env, kind: str, mode: str) -> None:
    a, b = make_env("a"), make_env("b")
    before = tree_digest(a)
    first, second = apply(a, kind, mode, seed=42), apply(b, kind, mode, seed=42)
    assert signature(a, mode) == signature(b, mode)
    assert tree_digest(a) != before, "the incident changed nothing"
    assert first.description == second.description and first.touched == second.touched
    assert [r for r, _ in first.damaged_digests] == [r for r, _ in second.damaged_digests]
    if mode not in ("stale_lock", "wrong_model"):  # DVC's rwlock holds absolute paths of its own copy
        assert first.damaged_digests == second.damaged_digests


@pytest.mark.parametrize(("kind", "mode", "params"), SEEDED, ids=[f"{k}/{m}{p or ''}" for k, m, p in SEEDED])
def test_a_different_seed_gives_different_damage(make_env, kind: str, mode: str, params: dict) -> None:
    first = make_env("seed1")
    apply(first, kind, mode, seed=1, **params)
    damaged = signature(first, mode)
    for seed in (2, 3, 4, 5, 6):  # a seed may repeat a choice among few (2 backups, 2 stages); not all of them
        other = make_env(f"seed{seed}")
        apply(other, kind, mode, seed=seed, **params)
        if signature(other, mode) != damaged:
            return
    pytest.fail(f"seeds 1 to 6 all gave the same damage for {kind}/{mode}")


@pytest.mark.parametrize(("kind", "mode"), ALL, ids=[f"{k}/{m}" for k, m in ALL])
def test_dry_run_lists_targets_and_touches_nothing(env: Path, kind: str, mode: str) -> None:
    before = tree_digest(env)
    injection = apply(env, kind, mode, dry_run=True)
    assert tree_digest(env) == before
    assert injection.dry_run and injection.touched and injection.description.startswith("would ")
    assert all(not Path(t).is_absolute() and ".." not in Path(t).parts for t in injection.touched)


def test_a_missing_seed_means_seed_zero(make_env) -> None:
    a, b = make_env("a"), make_env("b")
    apply(a, "data_corruption", "noise", seed=None)
    apply(b, "data_corruption", "noise", seed=0)
    assert (a / DATA).read_bytes() == (b / DATA).read_bytes()


# -- bad input: one clear error, before anything is touched ---------------------------------------------
BAD = [
    (Incident("data_rot"), r"unknown incident kind 'data_rot'; known kinds: data_corruption, model_loss, pipeline_failure, service_outage, storage_loss"),
    (Incident("data_corruption", "smudge"), r"unknown mode 'smudge'.*allowed modes: noise, missing_values, duplicates, label_flip"),
    (Incident("data_corruption", "noise", {"fracton": 0.1}), r"unknown parameter\(s\) fracton; allowed: fraction, scale, label"),
    (Incident("data_corruption", "noise", {"fraction": 0.0}), r"parameter fraction=0.0 is out of range \(0.0, 1.0\]"),
    (Incident("data_corruption", "missing_values", {"fraction": 1.5}), r"parameter fraction=1.5 is out of range \(0.0, 1.0\]"),
    (Incident("data_corruption", "noise", {"fraction": "a lot"}), r"parameter fraction='a lot' must be of type float, \(0.0, 1.0\]"),
    (Incident("data_corruption", "bitflip", {"flips": 0}), r"parameter flips=0 is out of range \[1, 1000000\]"),
    (Incident("data_corruption", "schema_drift", {"change": "explode"}), r"change='explode' is not allowed; one of 'drop', 'rename', 'reorder', 'dtype'"),
    (Incident("pipeline_failure", "crash", {"stage": "deploy"}), r"stage='deploy' is not one of the project's stages: 'prepare', 'train'"),
    (Incident("pipeline_failure", "crash", {"persistent": "yes"}), r"persistent='yes' must be of type bool"),
    (Incident("storage_loss", "dvc_remote_loss", {"how": "burnt"}), r"how='burnt' is not allowed; one of 'emptied', 'unreachable'"),
    (Incident("model_loss", "truncate", {"fraction": 1.0}), r"fraction=1.0 is out of range \(0.0, 1.0\)"),
]


@pytest.mark.parametrize(("incident", "message"), BAD, ids=[i.label() + str(i.param_dict) for i, _ in BAD])
def test_bad_incidents_name_the_value_and_what_is_allowed(env: Path, incident: Incident, message: str) -> None:
    before = tree_digest(env)
    with pytest.raises(IncidentError, match=message):
        inject(env, incident, artifacts=ARTIFACTS, run_stage=stage_runner(env))
    assert tree_digest(env) == before


def test_a_root_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IncidentError, match="is not a directory"):
        inject(tmp_path / "nowhere", Incident("data_corruption"), artifacts=ARTIFACTS)


# -- containment -----------------------------------------------------------------------------------------
CONTAINED = [("data_corruption", m) for m in ("noise", "truncate", "bitflip", "delete", "stale_version")] + [
    ("model_loss", "corrupt"), ("model_loss", "delete"), ("storage_loss", "dvc_cache_corruption"),
    ("storage_loss", "dvc_cache_loss"),
]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "precious.csv"
    path.parent.mkdir()
    path.write_text("id,x,churn\n1,2.0,0\n2,3.0,1\n")
    return path


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
@pytest.mark.parametrize(("kind", "mode"), CONTAINED, ids=[f"{k}/{m}" for k, m in CONTAINED])
def test_targets_outside_the_root_are_refused_and_nothing_is_touched(env: Path, outside: Path, kind: str, mode: str,
                                                                     how: str) -> None:
    if how == "absolute":
        target = str(outside)
    elif how == "dotdot":
        target = os.path.relpath(outside, env)
        assert target.startswith("..")
    else:
        (env / "data" / "link.csv").symlink_to(outside)
        target = "data/link.csv"
    before, st = tree_digest(env), outside.stat()
    with pytest.raises(ContainmentError, match="outside the environment root"):
        inject(env, Incident(kind, mode, target=target, seed=1), artifacts=ARTIFACTS)
    assert tree_digest(env) == before
    assert outside.read_text() == "id,x,churn\n1,2.0,0\n2,3.0,1\n" and outside.stat().st_mtime_ns == st.st_mtime_ns


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_artifact_map_pointing_out_through_a_symlink_is_refused(tmp_path: Path, outside: Path, dry_run: bool) -> None:
    root = tmp_path / "env"
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").symlink_to(outside)
    (root / "remote").symlink_to(outside.parent, target_is_directory=True)
    arts = Artifacts(data=("data/raw.csv",), dvc_remote="remote", backups="remote")
    for kind, mode in [("data_corruption", "truncate"), ("storage_loss", "dvc_remote_loss"), ("storage_loss", "backup_loss")]:
        with pytest.raises(ContainmentError):
            inject(root, Incident(kind, mode), artifacts=arts, dry_run=dry_run)
    assert outside.read_text() == "id,x,churn\n1,2.0,0\n2,3.0,1\n"


# -- the catalogue -----------------------------------------------------------------------------------------
def test_describe_lists_every_kind_mode_summary_and_parameter() -> None:
    text = describe(REGISTRY)
    assert REGISTRY.kinds() == ["data_corruption", "model_loss", "pipeline_failure", "storage_loss", "service_outage"]
    for kind, mode in ALL:
        injector = REGISTRY.get(kind, mode)
        assert injector.summary(), f"{kind}/{mode} has no one-line docstring"
        assert f"mode={mode!r}" in text and injector.summary() in text
        for param in injector.params:
            assert f"      {param.name}: {param.type_name()}" in text
    assert "fraction: float = 0.1, in (0.0, 1.0] [severity]: share of rows hit" in text
    assert "change: str = 'drop', one of 'drop', 'rename', 'reorder', 'dtype'" in text
    assert "stage: str (optional), one of the project's stages" in text
    assert text.splitlines()[0].startswith("data_corruption  (modes: noise, missing_values, duplicates")


def test_every_built_in_mode_is_documented_and_has_a_severity_or_no_numeric_knob() -> None:
    for injector in REGISTRY:
        numeric = [p for p in injector.params if p.type in (int, float)]
        assert len([p for p in injector.params if p.severity]) <= 1, injector
        if injector.mode in ("truncate", "partial_write"):
            continue  # a fraction kept: its low end is the worse one
        assert not numeric or any(p.severity for p in numeric) or injector.mode in ("registry_version_deleted",), injector


def test_a_custom_injector_gets_the_same_validation_containment_and_listing(tmp_path: Path) -> None:
    registry = builtin_registry()

    def scribble(ctx, incident, targets):
        """A line of graffiti appended to the file."""
        for path in targets:
            with open(path, "a") as fh:
                fh.write("#" * incident.param("width") + "\n")
        return f"scribbled on {len(targets)} file(s)"

    registry.register_function("graffiti", "scribble", scribble, params=(Param("width", int, 3, low=1, high=80, severity=True),),
                               targets="data")
    (tmp_path / "d.csv").write_text("a\n")
    arts = Artifacts(data=("d.csv",))
    injection = inject(tmp_path, Incident("graffiti", seed=1), artifacts=arts, registry=registry)
    assert (tmp_path / "d.csv").read_text() == "a\n###\n" and injection.touched == ("d.csv",)
    with pytest.raises(IncidentError, match=r"width=99 is out of range \[1, 80\]"):
        inject(tmp_path, Incident("graffiti", params={"width": 99}), artifacts=arts, registry=registry)
    with pytest.raises(ContainmentError):
        inject(tmp_path, Incident("graffiti", target="/etc/hostname"), artifacts=arts, registry=registry)
    assert "mode='scribble', width=3): A line of graffiti appended to the file." in describe(registry)
