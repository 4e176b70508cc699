"""A DVC repository's baseline build announces its stages (``pytest_mlchaos.progress``), each once, in order."""

from __future__ import annotations


def test_the_build_of_a_dvc_repository_announces_its_stages(foreign_build_stages: list[str]) -> None:
    assert foreign_build_stages == [
        "copying the sources, git init, DVC config, first commit",
        "running the pipeline: dvc repro of 3 stage(s) (prepare, train, evaluate), then push",
        "rerunning the metrics stages once, to learn which outputs are not byte-reproducible",
    ]
