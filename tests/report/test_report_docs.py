"""The documents that ship with the report: the JSON Schema, the schema page and the example CI workflow."""

from __future__ import annotations

import json
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


def gate_step(workflow: dict) -> dict:
    return next(step for step in workflow["jobs"]["gate"]["steps"] if "--mlchaos" in step.get("run", ""))


def test_the_example_workflow_runs_the_gate_with_xdist_and_publishes_both_reports():
    yaml = pytest.importorskip("yaml")
    from pytest_mlchaos.settings import OPT_ENABLE, OPT_MARKDOWN, OPT_REPORT

    workflow = yaml.safe_load((DOCS / "github-actions.yml").read_text(encoding="utf-8"))
    argv = shlex.split(gate_step(workflow)["run"])
    assert argv[:5] == ["pytest", OPT_ENABLE, "-n", "2", "scenarios/"]
    options = dict(arg.split("=", 1) for arg in argv if "=" in arg)
    assert options[OPT_MARKDOWN] == "$GITHUB_STEP_SUMMARY"
    upload = next(step for step in workflow["jobs"]["gate"]["steps"] if step.get("uses", "").startswith(
        "actions/upload-artifact"))
    assert options[OPT_REPORT] in upload["with"]["path"].split()
    assert options["--junitxml"] in upload["with"]["path"].split()
    steps = [step.get("name") for step in workflow["jobs"]["gate"]["steps"]]
    assert steps.index("Install") < steps.index("Tests") < steps.index("Resilience gate")


def test_the_terminal_example_in_the_schema_page_is_what_terminal_lines_prints(outcomes, run):
    from pytest_mlchaos.report import build_report, terminal_lines

    text = (DOCS / "report-schema.md").read_text(encoding="utf-8")
    section = text[text.index("## Terminal section"):]
    example = section[section.index("```\n") + 4:section.index("\n```", section.index("```\n") + 4)]
    repaired, critical = outcomes[1], outcomes[3]
    assert "\n".join(terminal_lines(build_report(run(), [repaired, critical]))) == example
