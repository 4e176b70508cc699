"""The documents that ship with the report: the JSON Schema, the schema page and the example CI workflow."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from pytest_mlchaos.gate import Verdict
from pytest_mlchaos.report import SCHEMA

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_schema_file_names_the_schema_version_and_every_verdict():
    schema = json.loads((DOCS / "mlchaos-report-2.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["schema"] == {"const": SCHEMA}
    assert schema["$defs"]["verdict"]["enum"] == [v.value for v in Verdict]
    assert schema["$defs"]["summary"]["properties"]["score"]["maximum"] == 100


def test_the_schema_names_every_place_an_error_can_come_from():
    from pytest_mlchaos.evidence import FAILURE_STAGES

    schema = json.loads((DOCS / "mlchaos-report-2.schema.json").read_text(encoding="utf-8"))
    error = next(option for option in schema["$defs"]["record"]["properties"]["error"]["oneOf"] if option["type"] == "object")
    assert error["properties"]["where"]["enum"] == list(FAILURE_STAGES)
    text = (DOCS / "report-schema.md").read_text(encoding="utf-8")
    assert "(" + ", ".join(f"`{stage}`" for stage in FAILURE_STAGES) + ")" in text


def test_the_schema_page_documents_every_weight_of_the_score():
    text = (DOCS / "report-schema.md").read_text(encoding="utf-8")
    assert "score = 100 * max(0, sum(w_i) - 0.5 * F) / N" in text
    for verdict in Verdict:
        assert f"| `{verdict.value}` |" in text


def _workflow() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((DOCS / "github-actions.yml").read_text(encoding="utf-8"))


def _commands(workflow: dict) -> list[list[str]]:
    """Every shell command of every ``run:`` step, split into words (``${{ ... }}`` and ``$(...)`` as ``X``)."""
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            text = step.get("run", "")
            text = re.sub(r"\$\{\{[^}]*\}\}", "X", text.replace("\\\n", " "))
            text = re.sub(r"\$\( \[[^)]*\)", "", text)  # the optional --mlchaos-shard-durations
            for line in text.splitlines():
                line = line.split("  #")[0].strip()
                if line:
                    commands.append(shlex.split(line))
    return commands


def _step(job: dict, name: str) -> dict:
    return next(step for step in job["steps"] if step.get("name") == name)


def test_the_example_workflow_runs_shards_caches_the_baseline_and_gates_once_on_the_merged_report():
    workflow = _workflow()
    chaos, gate = workflow["jobs"]["chaos"], workflow["jobs"]["gate"]
    assert len(chaos["strategy"]["matrix"]["shard"]) == int(workflow["env"]["SHARDS"])
    run = _step(chaos, "Chaos shard")["run"]
    assert shlex.split(run)[:5] == ["pytest", "--mlchaos", "-n", "2", "scenarios/"]
    assert "--mlchaos-shard=${{ matrix.shard }}/${{ env.SHARDS }}" in run
    assert "--mlchaos-seed=${{ env.MLCHAOS_SEED }}" in run  # one seed, or the merge refuses the shards
    assert "--mlchaos-report=reports/shard-${{ matrix.shard }}.json" in run
    assert "--mlchaos-shard-durations=previous/mlchaos-report.json" in run
    key = _step(chaos, "Baseline key")["run"]
    assert "pytest --mlchaos-baseline-key scenarios/" in key
    cache = next(step for step in chaos["steps"] if step.get("uses", "").startswith("actions/cache"))
    assert "steps.key.outputs.key" in cache["with"]["key"]
    assert cache["with"]["path"] == "scenarios/.pytest_cache/d/mlchaos"  # where the plugin stores baselines
    assert gate["needs"] == ["chaos", "previous"]
    assert "mlchaos merge reports/mlchaos-report.json reports/shard-*.json" in _step(gate, "Merge the shard reports")["run"]
    ratchet = _step(gate, "Ratchet against main")["run"]
    assert "mlchaos compare previous/mlchaos-report.json reports/mlchaos-report.json" in ratchet
    upload = next(step for step in gate["steps"] if step.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["name"] == "mlchaos-report" and "reports/mlchaos-report.json" in upload["with"]["path"]


def test_every_pytest_option_and_mlchaos_command_in_the_workflow_exists():
    from pytest_mlchaos import settings
    from pytest_mlchaos.cli import _parser

    options = {value for name, value in vars(settings).items() if name.startswith("OPT_")}
    seen = set()
    for argv in _commands(_workflow()):
        if argv[0] == "pytest":
            used = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--mlchaos")}
            assert used <= options, f"unknown pytest options {used - options} in {argv}"
            seen.add("pytest")
        elif argv[0] == "mlchaos":
            _parser().parse_args(argv[1:])  # an unknown command or option exits 2 here
            seen.add(f"mlchaos {argv[1]}")
    assert seen == {"pytest", "mlchaos merge", "mlchaos compare", "mlchaos render"}


def test_the_terminal_example_in_the_schema_page_is_what_terminal_lines_prints(outcomes, run):
    from pytest_mlchaos.report.document import build_report
    from pytest_mlchaos.report.render import terminal_lines

    text = (DOCS / "report-schema.md").read_text(encoding="utf-8")
    section = text[text.index("## Terminal section"):]
    example = section[section.index("```\n") + 4:section.index("\n```", section.index("```\n") + 4)]
    repaired, critical = outcomes[1], outcomes[3]
    assert "\n".join(terminal_lines(build_report(run(), [repaired, critical]))) == example
