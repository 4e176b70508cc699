"""Found by the stateful machine: random bytes in the model file used to segfault the health check."""

import pytest


@pytest.mark.incident("model_loss", mode="corrupt", nbytes=1022, where="random", seed=365412434)
def test_a_model_corrupted_at_random_offsets_is_checked_without_crashing(ml_env):
    assert any("model.pkl" in problem for problem in ml_env.detect())
