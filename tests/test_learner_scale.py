"""The learner at the reward scale of real tasks: a large reward paid when a sequence ends.

The toy_brackets task (tests/toy_task/toy_task/brackets.py) pays 550..650 for a valid string
when it ends, 0 for an invalid one, -1000 for one that never ends: the SMILES default
preset's scale. At c = 1 (rewards of hundreds of nats), every algorithm must end with a higher
mean reward than its prior and never fall below it at an evaluation during training.

Measured before the fix (BUILD.md, "The learner at small c"): with the values starting at 0,
g and psi wrote "a." (reward 550, the lowest valid one; prior 575) from the first evaluation
on, because the reward of ending was learned before the bootstrapped value of going on.
"""

import json
import os

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner import cli  # noqa: E402

TOY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "toy_task")
PRIOR = os.path.join(TOY, "brackets_prior")


@pytest.fixture(autouse=True)
def toy_installed(monkeypatch):
    monkeypatch.syspath_prepend(TOY)  # as `pip install tests/toy_task` would: its dist-info is found
    yield


def test_finished_rewards_of_the_toy_by_hand():
    from toy_task import brackets
    a, b, o, c = brackets.ATOM_A, brackets.ATOM_B, brackets.OPEN, brackets.CLOSE
    assert brackets.finished_reward([a], False) == 550.0  # no b: 600 + 50 (2 * 0 - 1)
    assert brackets.finished_reward([b], False) == 650.0
    assert brackets.finished_reward([a, o, b, c], False) == 600.0  # half b
    assert brackets.finished_reward([a, o, c], False) == 0.0  # an empty bracket pair
    assert brackets.finished_reward([o, a], False) == 0.0  # open
    assert brackets.finished_reward([], False) == 0.0  # no atom
    assert brackets.finished_reward([b], True) == -1000.0  # never ended


def _train(tmp_path, algorithm, extra=()):
    out = str(tmp_path / algorithm)
    num_envs, length, rollouts = 64, 16, 12
    steps = num_envs * length * rollouts
    args = ["train", "--task", "toy_brackets", "--prior", PRIOR, "--out", out, "--algorithm", algorithm,
            "--c", "1", "--discount", "1", "--value-offset", "prior_return", "--steps", str(steps),
            "--num-envs", str(num_envs), "--num-notes", str(length), "--exploration", "boltzmann",
            "--epsilon-start", "0", "--epsilon-end", "0", "--batch-size", "64", "--train-every", "4",
            "--learning-rate", "1e-3", "--eval-every", str(steps // 3), "--eval-samples", "300",
            "--final-eval-samples", "1000", "--num-samples", "0", "--replay-capacity", "20000", "--quiet",
            *extra]
    assert cli.main(args) == 0
    with open(os.path.join(out, "history.json")) as f:
        history = json.load(f)
    with open(os.path.join(out, "stats.json")) as f:
        stats = json.load(f)
    return history, stats


@pytest.mark.parametrize("algorithm, head", [("q", "centered"), ("psi", "centered"), ("g", "zero")])
def test_every_algorithm_beats_its_prior_at_a_small_c(tmp_path, algorithm, head):
    history, stats = _train(tmp_path, algorithm, ["--head-init", head])
    prior = stats["before"]["mean_reward"]
    assert 560 < prior < 590  # the shipped toy prior: 575.3 on 2,000 samples
    during = [e["mean_reward"] for e in history["evaluations"] if e["step"] > 0]
    assert len(during) == 3 and min(during) > prior, (prior, during)
    assert stats["after"]["mean_reward"] > prior + 25, (prior, stats["after"])
    # the offset is the prior's mean return r_T / c (gamma 1): near the prior's mean reward
    assert history["value_offset"] == pytest.approx(prior, abs=25)


def test_prior_return_is_the_mean_scaled_discounted_soft_return(monkeypatch):
    """By hand: an environment whose every episode pays 1, 2, 4 at its three steps."""
    import tensorflow as tf
    from rl_tuner.kl_control import value_offset
    from rl_tuner.runner.config import RLConfig
    from rl_tuner.kl_control.environment import StepResult

    class Env:
        num_envs = 4

        def reset(self, rng, mask=None):
            self.t = 0
            return np.zeros(4, np.int32)

        def step(self, actions):
            self.t += 1
            return StepResult(np.full(4, 2.0 ** (self.t - 1)), np.full(4, self.t == 3))

    class Prior:
        def zero_state(self, n):
            return ()

        def step(self, tokens, state):
            return tf.math.log(tf.fill([4, 3], 1 / 3)), state

    monkeypatch.setattr(value_offset, "PRIOR_RETURN_EPISODES", 8)  # two rollouts of 4
    # (1 + 0.5 * 2 + 0.25 * 4) / 2 = 1.5 in every episode; the episodes end at step 3 of 5
    for algorithm in ("psi", "g", "pure_rl"):
        config = RLConfig(task="melody", algorithm=algorithm, c=2.0, discount=0.5, max_length=5)
        assert value_offset.prior_return(Prior(), Env(), config) == pytest.approx(1.5), algorithm
    # q's reward keeps log p(a|s) = log 1/3 at each step: 1.5 + (1 + 0.5 + 0.25) log(1/3)
    config = RLConfig(task="melody", algorithm="q", c=2.0, discount=0.5, max_length=5)
    assert value_offset.prior_return(Prior(), Env(), config) == pytest.approx(1.5 + 1.75 * np.log(1 / 3), rel=1e-6)
