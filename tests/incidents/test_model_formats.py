"""Model files in each serialisation (pickle, joblib plain and compressed, skops, opaque bytes): ``wrong_model``
writes the worse model the way the original was written, ``corrupt`` at the header really breaks loading.
Real scikit-learn models, loaded back with the loader a project would use."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.incidents import Incident, IncidentError, inject
from pytest_mlchaos.modelfiles import model_format


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any]:
    from sklearn.datasets import make_classification

    return make_classification(n_samples=600, n_features=8, n_informative=5, random_state=0)


@pytest.fixture(scope="module")
def forest(data: tuple[Any, Any]) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    X, y = data
    return RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0).fit(X[:400], y[:400])


@pytest.fixture(scope="module")
def linear(data: tuple[Any, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    X, y = data
    return LogisticRegression(max_iter=500).fit(X[:400], y[:400])


def _pickle_dump(model: Any, path: Path) -> None:
    with open(path, "wb") as fh:
        pickle.dump(model, fh, protocol=4)


def _pickle_load(path: Path, original: Path) -> Any:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _joblib_dump(compress: Any) -> Callable[[Any, Path], None]:
    def dump(model: Any, path: Path) -> None:
        import joblib

        joblib.dump(model, path, compress=compress)

    return dump


def _joblib_load(path: Path, original: Path) -> Any:
    import joblib

    return joblib.load(path)


def _skops_dump(model: Any, path: Path) -> None:
    import skops.io as sio

    sio.dump(model, path)


def _skops_load(path: Path, original: Path) -> Any:
    """As a project does: trusting exactly the types it trusted when it saved the model."""
    import skops.io as sio

    return sio.load(path, trusted=sio.get_untrusted_types(file=original))


FORMATS = {
    "pickle": ("pickle", _pickle_dump, _pickle_load, b"\x80\x04"),
    "joblib": ("joblib", _joblib_dump(0), _joblib_load, b"\x80"),
    "joblib-gzip": ("joblib", _joblib_dump(("gzip", 3)), _joblib_load, b"\x1f\x8b"),
    "joblib-zlib": ("joblib", _joblib_dump(3), _joblib_load, b"\x78"),
    "skops": ("skops", _skops_dump, _skops_load, b"PK\x03\x04"),
}


def accuracy(model: Any, data: tuple[Any, Any]) -> float:
    X, y = data
    return float((model.predict(X[400:]) == y[400:]).mean())


def run(root: Path, mode: str, seed: int = 1, **params: Any):
    return inject(root, Incident("model_loss", mode, params, seed=seed), artifacts=Artifacts(models=("models/model.bin",)))


def save(root: Path, model: Any, dump: Callable[[Any, Path], None]) -> Path:
    path = root / "models" / "model.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    dump(model, path)
    (root / "original.bin").write_bytes(path.read_bytes())
    return path


@pytest.mark.parametrize("name", list(FORMATS))
def test_wrong_model_writes_a_pruned_forest_that_the_projects_own_loader_reads(tmp_path: Path, name: str, forest: Any,
                                                                              data: tuple[Any, Any]) -> None:
    fmt, dump, load, magic = FORMATS[name]
    path = save(tmp_path, forest, dump)
    injection = run(tmp_path, "wrong_model", variant="pruned", trees=1)
    assert model_format(path) == fmt and path.read_bytes().startswith(magic)
    model = load(path, tmp_path / "original.bin")
    assert type(model) is type(forest) and len(model.estimators_) == 1
    assert accuracy(model, data) < accuracy(forest, data) - 0.02
    assert f"({fmt})" in injection.description
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.bin"]  # no temporary file left behind


@pytest.mark.parametrize("name", ["pickle", "joblib", "joblib-gzip"])
def test_wrong_model_degraded_loads_with_the_matching_loader_and_scores_worse(tmp_path: Path, name: str, linear: Any,
                                                                             data: tuple[Any, Any]) -> None:
    fmt, dump, load, magic = FORMATS[name]
    path = save(tmp_path, linear, dump)
    run(tmp_path, "wrong_model", fraction=0.4)  # auto: no forest, so degraded
    assert model_format(path) == fmt and path.read_bytes().startswith(magic)
    model = load(path, tmp_path / "original.bin")
    assert type(model).__name__ == "DegradedModel"
    assert accuracy(model, data) < accuracy(linear, data) - 0.1


def test_a_plain_pickle_keeps_its_protocol(tmp_path: Path, linear: Any) -> None:
    path = tmp_path / "models" / "model.bin"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps(linear, protocol=2))
    run(tmp_path, "wrong_model")
    assert path.read_bytes()[:2] == b"\x80\x02"
    with open(path, "rb") as fh:
        assert type(pickle.load(fh)).__name__ == "DegradedModel"


def test_the_old_bug_a_pickle_project_could_not_load_the_wrong_model_is_gone(tmp_path: Path, forest: Any) -> None:
    """wrong_model used to write joblib: ``pickle.load`` then failed on a file the plugin's joblib check still loaded."""
    path = save(tmp_path, forest, _pickle_dump)
    run(tmp_path, "wrong_model")
    with open(path, "rb") as fh:
        assert len(pickle.load(fh).estimators_) == 1


def test_wrong_model_degraded_on_a_skops_file_is_refused_because_its_loader_would_not_trust_the_wrapper(
        tmp_path: Path, linear: Any) -> None:
    path = save(tmp_path, linear, _skops_dump)
    before = path.read_bytes()
    with pytest.raises(IncidentError, match=r"models/model.bin is a skops file; variant 'auto' would wrap LogisticRegression "
                                            r"in a class its skops loader does not trust.*variant='pruned'"):
        run(tmp_path, "wrong_model")
    assert path.read_bytes() == before


def test_an_opaque_model_file_gets_no_wrong_model_but_the_byte_modes_still_apply(tmp_path: Path) -> None:
    path = tmp_path / "models" / "model.bin"
    path.parent.mkdir()
    original = b"MYMODEL1" + bytes(range(256)) * 8
    path.write_bytes(original)
    for dry_run in (True, False):
        with pytest.raises(IncidentError, match=r"models/model.bin is not a pickle, joblib or skops file \(opaque bytes.*"
                                                r"modes that apply to it as bytes: corrupt, truncate, delete$"):
            inject(tmp_path, Incident("model_loss", "wrong_model"), artifacts=Artifacts(models=("models/model.bin",)),
                   dry_run=dry_run)
        assert path.read_bytes() == original
    run(tmp_path, "corrupt", nbytes=8)
    assert path.read_bytes()[:8] != original[:8] and path.read_bytes()[8:] == original[8:]
    run(tmp_path, "truncate", fraction=0.5)
    assert path.read_bytes() == path.read_bytes()[: len(original) // 2]
    run(tmp_path, "delete")
    assert not path.exists()


@pytest.mark.parametrize("nbytes", [1, 4, 64])
@pytest.mark.parametrize("name", list(FORMATS))
def test_corrupt_at_the_header_makes_every_format_fail_to_load(tmp_path: Path, name: str, nbytes: int, linear: Any) -> None:
    fmt, dump, load, _ = FORMATS[name]
    for seed in range(8):  # random garbage alone would sometimes be valid opcodes: every seed must break loading
        root = tmp_path / str(seed)
        path = save(root, linear, dump)
        size = path.stat().st_size
        injection = run(root, "corrupt", seed=seed, nbytes=nbytes)
        assert path.stat().st_size == size
        with pytest.raises(Exception):  # noqa: B017 - any failure to load is the point; loading must not succeed
            load(path, root / "original.bin")
        assert f"({fmt})" in injection.description


def test_corrupt_at_the_header_of_a_skops_file_hits_its_zip_directory_record_at_the_end(tmp_path: Path, linear: Any) -> None:
    import zipfile

    path = save(tmp_path, linear, _skops_dump)
    original = path.read_bytes()
    injection = run(tmp_path, "corrupt", nbytes=16)
    damaged = path.read_bytes()
    start = original.rfind(b"PK\x05\x06")
    assert f"at offset {start}" in injection.description
    assert damaged[:start] == original[:start] and damaged[start + 16:] == original[start + 16:]
    assert not zipfile.is_zipfile(path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_model_format_knows_a_pickle_longer_than_the_bytes_it_sniffs(tmp_path: Path, forest: Any, protocol: int) -> None:
    """A read of the first 64 KiB cuts the stream mid-opcode or between opcodes; it was taken for opaque bytes."""
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(forest, protocol=protocol))
    assert path.stat().st_size > 1 << 16
    assert model_format(path) == "pickle"
    path.write_bytes(path.read_bytes()[: 1 << 15])  # a whole file that ends early is no loadable pickle
    assert model_format(path) == "opaque"
