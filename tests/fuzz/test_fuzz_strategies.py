"""The incident strategies: valid, fully parameterised incidents; eager argument errors; shrinking direction."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import pytest_mlchaos.incidents as incidents_module
from pytest_mlchaos.incidents import Incident, IncidentRegistry, Param
from pytest_mlchaos.profiles import PHASES
from pytest_mlchaos.strategies import StrategyError, incident_sequences, incidents, replay_lines

from .toyincidents import toy_registry

REG = toy_registry()
STAGES = {"stages": ("prepare", "train")}
FAST = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
FIND = settings(derandomize=True, phases=PHASES)


@FAST
@given(incidents(registry=REG, available=STAGES))
def test_every_generated_incident_is_valid_and_fully_parameterised(incident: Incident) -> None:
    injector = REG.get(incident.kind, incident.mode)
    assert REG.validate(incident, STAGES) == incident
    assert set(incident.param_dict) == {p.name for p in injector.params}
    assert isinstance(incident.seed, int) and 0 <= incident.seed < 2**32


@FAST
@given(incidents(registry=REG, kinds=["toy_data"], max_severity=0.25))
def test_max_severity_caps_the_severity_params_to_that_fraction_of_their_range(incident: Incident) -> None:
    assert incident.kind == "toy_data"
    if "fraction" in incident.param_dict:
        assert 0.0 < incident.param("fraction") <= 0.25
    else:
        assert 1 <= incident.param("n_bytes") <= 1 + int((64 - 1) * 0.25)


@FAST
@given(incidents(registry=REG, modes={"toy_data": ["bitflip"], "toy_model": ["delete"]},
                 targets={"toy_data": ["train.csv", "test.csv"]}))
def test_modes_as_a_mapping_and_targets_per_kind_restrict_what_is_drawn(incident: Incident) -> None:
    assert incident.label() in ("toy_data/bitflip", "toy_model/delete")
    assert incident.target in (("train.csv", "test.csv") if incident.kind == "toy_data" else (None,))


def test_incidents_that_need_the_stages_are_skipped_when_no_list_is_given() -> None:
    drawn = find(incidents(registry=REG), lambda i: i.kind == "toy_pipeline" or i.label() == "toy_model/delete",
                 settings=settings(FIND, max_examples=300))
    assert drawn.label() == "toy_model/delete"  # partial_write never came up without available["stages"]


def test_a_required_choices_from_list_names_available_when_its_mode_is_asked_for() -> None:
    with pytest.raises(StrategyError, match=r"available.*toy_pipeline/partial_write.*available\['stages'\]"):
        incidents(registry=REG, modes={"toy_pipeline": ["partial_write"]})


def test_choices_from_draws_from_the_given_list() -> None:
    drawn = find(incidents(registry=REG, kinds="toy_pipeline", available=STAGES), lambda i: i.param("stage") == "train",
                 settings=FIND)
    assert drawn == Incident("toy_pipeline", "partial_write", {"stage": "train"}, seed=0)


def test_shrinking_goes_to_the_first_mode_the_lowest_severity_and_seed_zero() -> None:
    assert find(incidents(registry=REG), lambda i: True, settings=FIND) == Incident(
        "toy_data", "truncate", {"fraction": 0.0001}, seed=0)
    bitflip = find(incidents(registry=REG), lambda i: i.mode == "bitflip", settings=FIND)
    assert bitflip == Incident("toy_data", "bitflip", {"n_bytes": 1}, seed=0)


def test_sequences_shrink_to_the_fewest_incidents() -> None:
    found = find(incident_sequences(registry=REG, max_size=4), lambda seq: len({i.kind for i in seq}) >= 2,
                 settings=FIND)
    assert len(found) == 2 and {i.kind for i in found} == {"toy_data", "toy_model"}


def test_a_third_party_kind_in_the_active_registry_is_fuzzed_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = IncidentRegistry()
    registry.register_function("acme_outage", "blackout", lambda ctx, inc, targets: "dark",
                               params=[Param("minutes", int, 1, low=1, high=60, severity=True)])
    monkeypatch.setattr(incidents_module, "_active", registry)
    assert find(incidents(), lambda i: i.param("minutes") >= 30, settings=FIND) == Incident(
        "acme_outage", "blackout", {"minutes": 30}, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": ["toy_nope"]}, r"kinds: unknown incident kind 'toy_nope'; known kinds: toy_data, toy_model, toy_pipeline"),
        ({"kinds": []}, r"kinds=\[\] is empty"),
        ({"modes": []}, r"modes=\[\] is empty"),
        ({"modes": {}}, r"modes=\{\} is empty"),
        ({"kinds": ["toy_model"], "modes": ["bitflip"]}, r"modes: unknown mode 'bitflip' for kinds toy_model; allowed modes \(toy_model: corrupt, delete\)"),
        ({"modes": {"toy_data": ["shred"]}}, r"modes: unknown mode 'shred' for incident 'toy_data'; allowed modes: truncate, bitflip, missing_values"),
        ({"modes": {"toy_model": []}}, r"modes\['toy_model'\]=\[\] is empty"),
        ({"max_severity": 0}, r"max_severity=0 is outside \(0, 1\]"),
        ({"max_severity": 1.5}, r"max_severity=1.5 is outside \(0, 1\]"),
        ({"max_severity": float("nan")}, r"max_severity=nan must be a number in \(0, 1\]"),
        ({"max_severity": "high"}, r"max_severity='high' must be a number"),
        ({"targets": []}, r"targets=\[\] is empty"),
        ({"registry": object()}, r"registry=<object object at .*> is not an IncidentRegistry"),
    ],
)
def test_bad_arguments_raise_when_the_strategy_is_made_naming_the_argument(kwargs: dict, message: str) -> None:
    kwargs.setdefault("registry", REG)
    with pytest.raises(StrategyError, match=message):
        incidents(**kwargs)
    with pytest.raises(StrategyError, match=message):
        incident_sequences(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_size": 3, "max_size": 2}, r"min_size=3 is larger than max_size=2"),
        ({"min_size": -1}, r"min_size=-1 must be a non-negative integer"),
        ({"max_size": 2.5}, r"max_size=2.5 must be a non-negative integer"),
        ({"severity": 0.5}, r"unknown argument\(s\) severity; allowed: kinds, modes, max_severity"),
    ],
)
def test_bad_sequence_sizes_raise_when_the_strategy_is_made(kwargs: dict, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        incident_sequences(registry=REG, **kwargs)


def test_strategy_errors_are_both_hypothesis_and_incident_errors() -> None:
    from hypothesis.errors import InvalidArgument

    from pytest_mlchaos.incidents import IncidentError

    assert issubclass(StrategyError, InvalidArgument) and issubclass(StrategyError, IncidentError)


def test_replay_lines_are_the_marker_lines_of_a_runnable_scenario() -> None:
    text = replay_lines([Incident("toy_data", "bitflip", {"n_bytes": 1}, seed=0), Incident("toy_model", "delete", seed=7)])
    assert text.splitlines() == [
        "mlchaos replay (run with pytest --mlchaos):",
        "@pytest.mark.incident('toy_data', mode='bitflip', n_bytes=1, seed=0)",
        "@pytest.mark.incident('toy_model', mode='delete', seed=7)",
        "def test_replay(ml_env):",
        "    ...",
    ]


def test_the_public_interface_is_declared() -> None:
    import pytest_mlchaos.strategies as strategies

    assert sorted(strategies.__all__) == ["StrategyError", "incident_sequences", "incidents", "note_replay", "replay_lines"]


def test_strategies_compose_with_other_hypothesis_strategies() -> None:
    pair = find(st.tuples(incidents(registry=REG, kinds="toy_model"), st.integers(0, 3)), lambda t: t[1] == 2,
                settings=FIND)
    assert pair == (Incident("toy_model", "delete", seed=0), 2)  # fewer drawn parameters beats registration order
