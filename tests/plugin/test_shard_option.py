"""``--mlchaos-shard=I/N``: a stable, balanced slice of the incident tests; bad values are one-line usage errors."""

from __future__ import annotations

import json
import random

import pytest

from pytest_mlchaos.shards import durations_from_report, select, split

IDS = [f"scenarios/test_{i % 5}.py::test_case_{i}" for i in range(40)]


def test_every_incident_test_lands_in_exactly_one_shard() -> None:
    shards = split(IDS, 3)
    assert sorted(n for shard in shards for n in shard) == sorted(IDS)
    assert [len(s) for s in shards] == [14, 13, 13]  # equal weights spread evenly


def test_the_split_does_not_depend_on_collection_order() -> None:
    shuffled = IDS[:]
    random.Random(1).shuffle(shuffled)
    assert split(shuffled, 4) == split(IDS, 4)
    assert select(shuffled, (2, 4)) == frozenset(split(IDS, 4)[1])


def test_durations_balance_the_shards_longest_first_and_unknown_tests_count_as_the_median() -> None:
    durations = {IDS[0]: 30.0, IDS[1]: 10.0, IDS[2]: 10.0, IDS[3]: 10.0}
    shards = split(IDS[:6], 2, durations)  # IDS[4], IDS[5] unknown: 10 s each (the median)
    loads = sorted(sum(durations.get(n, 10.0) for n in shard) for shard in shards)
    assert loads == [40.0, 40.0]
    heavy = next(shard for shard in shards if IDS[0] in shard)
    assert len(heavy) == 2  # the 30 s test shares its shard with one 10 s test only


def test_durations_come_from_a_reports_records() -> None:
    report = {"incidents": [{"nodeid": "a", "time_to_metrics": 2.5, "time_to_recover": 1.0},
                            {"nodeid": "b", "time_to_metrics": None, "time_to_recover": 0.5},
                            {"nodeid": "c", "time_to_metrics": None, "time_to_recover": None}]}
    assert durations_from_report(report) == {"a": 2.5, "b": 0.5}


SUITE = "\n".join(
    f"""
@pytest.mark.incident("model_loss", mode="delete")
def test_incident_{i}(ml_env):
    pass
"""
    for i in range(6)
) + "\ndef test_plain():\n    pass\n"


def test_the_shards_of_a_run_together_run_every_test_once(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_suite="import pytest\n" + SUITE)
    ran = []
    for index in (1, 2):
        result = chaos.runpytest("--mlchaos", f"--mlchaos-shard={index}/2", "--mlchaos-report=r.json", "-v")
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines([f"mlchaos: shard {index}/2: 3 of 6 incident tests (by a hash of the node id); *"])
        passed = [line.split(" ")[0] for line in result.stdout.lines if line.endswith("PASSED") or " PASSED " in line]
        ran.append(sorted(passed))
        records = json.loads((chaos.path / "r.json").read_text())["incidents"]
        assert len(records) == 3
    assert "test_suite.py::test_plain" in ran[0] and "test_suite.py::test_plain" not in ran[1]
    assert not set(ran[0]) & set(ran[1])
    assert len(ran[0]) + len(ran[1]) == 7


def test_shard_durations_come_from_a_previous_report(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_suite="import pytest\n" + SUITE)
    chaos.runpytest("--mlchaos", "--mlchaos-report=prev.json").assert_outcomes(passed=7)
    report = json.loads((chaos.path / "prev.json").read_text())
    for record in report["incidents"]:  # equal weights: measured ones vary run to run, and would change the split
        record["time_to_metrics"] = 1.0
    (chaos.path / "prev.json").write_text(json.dumps(report))
    result = chaos.runpytest("--mlchaos", "--mlchaos-shard=2/3", "--mlchaos-shard-durations=prev.json")
    result.stdout.fnmatch_lines(["mlchaos: shard 2/3: 2 of 6 incident tests (balanced by the durations in prev.json)*"])
    result.assert_outcomes(passed=2, deselected=5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0/2", "*argument --mlchaos-shard: '0/2' is out of range; I/N needs 1 <= I <= N, e.g. 1/2"),
        ("3/2", "*argument --mlchaos-shard: '3/2' is out of range; I/N needs 1 <= I <= N, e.g. 1/2"),
        ("1/0", "*argument --mlchaos-shard: '1/0' is out of range; I/N needs 1 <= I <= N, e.g. 1/2"),
        ("a/b", "*argument --mlchaos-shard: 'a/b' is not I/N; use whole numbers such as 1/4 (shard 1 of 4)"),
        ("2", "*argument --mlchaos-shard: '2' is not I/N; use whole numbers such as 1/4 (shard 1 of 4)"),
    ],
)
def test_a_bad_shard_is_a_one_line_usage_error(chaos: pytest.Pytester, value: str, expected: str) -> None:
    chaos.makepyfile("def test_x(): pass")
    result = chaos.runpytest("--mlchaos", f"--mlchaos-shard={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str()


def test_a_foreign_durations_file_is_a_usage_error_naming_it(chaos: pytest.Pytester) -> None:
    chaos.makepyfile("def test_x(): pass")
    (chaos.path / "d.json").write_text('{"tests": []}')
    result = chaos.runpytest("--mlchaos", "--mlchaos-shard=1/2", "--mlchaos-shard-durations=d.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlchaos-shard-durations: d.json: not an mlchaos report (it has no 'schema' field*"])


def test_durations_without_a_shard_are_a_usage_error(chaos: pytest.Pytester) -> None:
    chaos.makepyfile("def test_x(): pass")
    result = chaos.runpytest("--mlchaos", "--mlchaos-shard-durations=prev.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlchaos-shard-durations=prev.json: only balances shards; add --mlchaos-shard=I/N"])
