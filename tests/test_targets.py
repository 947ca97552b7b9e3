"""Behaviour tests of rl_tuner.kl_control.targets: TD targets, reward composition and policy logits.

Every expected number is worked out by hand in the comments (spec section 2.4).
"""

import math

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from rl_tuner.kl_control import targets  # noqa: E402

pytestmark = pytest.mark.math  # the hand-computed math (`python -m pytest -m math`, BUILD.md "Test")

GAMMA = 0.5
# Two transitions, three actions.
REWARD = np.array([1.0, -0.5], np.float32)
NEXT_VALUES = np.array([[1.0, 2.0, 3.0],
                        [0.0, 0.0, 0.0]], np.float32)
# A normalised log prior log p(.|s'): row 0 p = (0.5, 0.25, 0.25), row 1 p = (0.2, 0.3, 0.5).
NEXT_LOG_PRIOR = np.log(np.array([[0.5, 0.25, 0.25],
                                  [0.2, 0.3, 0.5]], np.float32))
NOT_DONE = np.zeros(2, np.float32)
DONE = np.ones(2, np.float32)

# q (and pure_rl): y = r + gamma * max_a' Q-(s', a')
#   row 0: 1 + 0.5 * 3 = 2.5;   row 1: -0.5 + 0.5 * 0 = -0.5
Q_EXPECTED = [2.5, -0.5]
# psi: y = r + gamma * log sum exp Q-(s', .)
#   row 0: log(e + e^2 + e^3) = 3 + log(1 + e^-1 + e^-2) = 3 + log(1.5032147) = 3.4076060
#          -> 1 + 0.5 * 3.4076060 = 2.7038030
#   row 1: log(3 e^0) = log 3 = 1.0986123 -> -0.5 + 0.5493061 = 0.0493061
PSI_EXPECTED = [2.7038030, 0.0493061]
# g: y = r + gamma * log sum_a' p(a'|s') exp G-(s', a')
#   row 0: 0.5 e + 0.25 e^2 + 0.25 e^3 = 1.3591409 + 1.8472640 + 5.0213842 = 8.2277892
#          log 8.2277892 = 2.1075174 -> 1 + 0.5 * 2.1075174 = 2.0537587
#   row 1: G = 0 everywhere, sum p = 1, log 1 = 0 -> -0.5
G_EXPECTED = [2.0537587, -0.5]


def _target(name, done, next_log_prior=NEXT_LOG_PRIOR):
    alg = targets.get_algorithm(name)
    y = alg.target(tf.constant(REWARD), tf.constant(NEXT_VALUES), GAMMA, tf.constant(done),
                   tf.constant(next_log_prior))
    return np.asarray(y)


def test_q_target_by_hand():
    np.testing.assert_allclose(_target("q", NOT_DONE), Q_EXPECTED, rtol=1e-6, atol=1e-6)


def test_psi_target_by_hand():
    np.testing.assert_allclose(_target("psi", NOT_DONE), PSI_EXPECTED, rtol=1e-6, atol=1e-6)


def test_g_target_by_hand():
    np.testing.assert_allclose(_target("g", NOT_DONE), G_EXPECTED, rtol=1e-6, atol=1e-6)


def test_g_target_uses_the_prior():
    # With a uniform prior log(1/3): row 0 = log((e + e^2 + e^3) / 3) = 3.4076060 - 1.0986123
    # = 2.3089937 -> 1 + 0.5 * 2.3089937 = 2.1544969; row 1: log(3/3) = 0 -> -0.5.
    uniform = np.full((2, 3), math.log(1.0 / 3.0), np.float32)
    np.testing.assert_allclose(_target("g", NOT_DONE, uniform), [2.1544969, -0.5], rtol=1e-6, atol=1e-6)


def test_pure_rl_target_equals_q_target():
    # pure_rl uses the Q-learning target: the same 2.5 and -0.5 as q.
    np.testing.assert_allclose(_target("pure_rl", NOT_DONE), Q_EXPECTED, rtol=1e-6, atol=1e-6)
    assert targets.get_algorithm("pure_rl").target is targets.q_target


@pytest.mark.parametrize("name", ["q", "psi", "g", "pure_rl"])
def test_done_gives_reward_without_bootstrap(name):
    # done = 1: y = r exactly (1.0 and -0.5), whatever the next values.
    np.testing.assert_array_equal(_target(name, DONE), REWARD)


@pytest.mark.parametrize("name", ["q", "psi", "g", "pure_rl"])
def test_done_is_per_transition(name):
    # Only row 1 terminal: row 0 keeps its bootstrapped value, row 1 is r = -0.5.
    expected = {"q": Q_EXPECTED, "pure_rl": Q_EXPECTED, "psi": PSI_EXPECTED, "g": G_EXPECTED}[name]
    y = _target(name, np.array([0.0, 1.0], np.float32))
    np.testing.assert_allclose(y, [expected[0], -0.5], rtol=1e-6, atol=1e-6)


def test_discount_zero_and_one():
    # gamma = 0 -> y = r; gamma = 1, q -> r + max = (1 + 3, -0.5 + 0) = (4, -0.5).
    q = targets.get_algorithm("q")
    y0 = q.target(tf.constant(REWARD), tf.constant(NEXT_VALUES), 0.0, tf.constant(NOT_DONE), None)
    y1 = q.target(tf.constant(REWARD), tf.constant(NEXT_VALUES), 1.0, tf.constant(NOT_DONE), None)
    np.testing.assert_allclose(np.asarray(y0), REWARD)
    np.testing.assert_allclose(np.asarray(y1), [4.0, -0.5])


# --------------------------------------------------------------------------- rewards
TASK = np.array([2.0, -1.0])
LOG_P_A = np.array([-1.0, -3.0])


@pytest.mark.parametrize("name", ["q", "psi"])
def test_reward_adds_log_prior(name):
    # r = log p + r_T / c; c = 0.5 doubles r_T: (-1 + 4, -3 - 2) = (3, -5).
    r = targets.get_algorithm(name).reward(TASK, LOG_P_A, 0.5)
    np.testing.assert_allclose(r, [3.0, -5.0])
    # c = 1: (-1 + 2, -3 - 1) = (1, -4).
    np.testing.assert_allclose(targets.get_algorithm(name).reward(TASK, LOG_P_A, 1.0), [1.0, -4.0])


@pytest.mark.parametrize("name", ["g", "pure_rl"])
def test_reward_without_log_prior(name):
    # r = r_T / c only; c = 0.5: (4, -2); c = 4: (0.5, -0.25).
    np.testing.assert_allclose(targets.get_algorithm(name).reward(TASK, LOG_P_A, 0.5), [4.0, -2.0])
    np.testing.assert_allclose(targets.get_algorithm(name).reward(TASK, LOG_P_A, 4.0), [0.5, -0.25])


@pytest.mark.parametrize("name", ["q", "psi", "g", "pure_rl"])
def test_reward_for_a_mode_without_log_prior(name):
    # Reward modes such as music_theory_only never add log p (spec 3.4): r = r_T / c = (4, -2).
    r = targets.get_algorithm(name).reward(TASK, LOG_P_A, 0.5, mode_adds_log_prior=False)
    np.testing.assert_allclose(r, [4.0, -2.0])


def test_reward_flags():
    assert targets.get_algorithm("q").reward_includes_log_prior
    assert targets.get_algorithm("psi").reward_includes_log_prior
    assert not targets.get_algorithm("g").reward_includes_log_prior
    assert not targets.get_algorithm("pure_rl").reward_includes_log_prior


# --------------------------------------------------------------------------- policies
VALUES = np.array([[1.0, 2.0, 3.0]], np.float32)
LOG_PRIOR = np.log(np.array([[0.5, 0.25, 0.25]], np.float32))


@pytest.mark.parametrize("name", ["q", "psi", "pure_rl"])
def test_policy_logits_are_values(name):
    logits = targets.get_algorithm(name).policy_logits(tf.constant(VALUES), tf.constant(LOG_PRIOR))
    np.testing.assert_array_equal(np.asarray(logits), VALUES)


def test_g_policy_logits_add_log_prior():
    # G + log p = (1 + log 0.5, 2 + log 0.25, 3 + log 0.25) = (0.3068528, 0.6137056, 1.6137056).
    logits = targets.get_algorithm("g").policy_logits(tf.constant(VALUES), tf.constant(LOG_PRIOR))
    np.testing.assert_allclose(np.asarray(logits), [[0.3068528, 0.6137056, 1.6137056]], rtol=1e-6)


def test_get_algorithm_names():
    assert set(targets.ALGORITHMS) == {"q", "psi", "g", "pure_rl"}
    for name in ("q", "psi", "g", "pure_rl"):
        assert targets.get_algorithm(name).name == name


def test_get_algorithm_bad_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        targets.get_algorithm("bad")
    message = str(info.value)
    assert "'bad'" in message
    listed = set(message.split("choose one of")[-1].replace(",", " ").split())
    assert listed == {"q", "psi", "g", "pure_rl"}


# The double estimator (LearnerConfig.double): the online network's values at s' choose (q) or
# weight (psi, g) the target network's NEXT_VALUES. Online values: row 0 (0, 0, 0), row 1 (1, 0, 0).
ONLINE_NEXT = np.array([[0.0, 0.0, 0.0],
                        [1.0, 0.0, 0.0]], np.float32)
# q: the online argmax (row 0: the first of equal values, action 0; row 1: action 0), valued by
#   the target: row 0: 1 + 0.5 * 1 = 1.5 (not 2.5: the target's own max is 3); row 1: -0.5 + 0 = -0.5
DOUBLE_Q_EXPECTED = [1.5, -0.5]
# psi: y = r + gamma E_pi[Psi- - log pi], pi = softmax(online)
#   row 0: pi uniform: mean(1, 2, 3) + log 3 = 3.0986123 -> 1 + 0.5 * 3.0986123 = 2.5493061
#          (below the soft maximum log sum exp = 3.4076060 of psi_target)
#   row 1: pi = (e, 1, 1) / (e + 2) = (0.5761169, 0.2119416, 0.2119416); Psi- = 0, so the value
#          is the entropy of pi, 0.9753278 -> -0.5 + 0.4876639 = -0.0123361
DOUBLE_PSI_EXPECTED = [2.5493061, -0.0123361]
# g: y = r + gamma E_pi[G- - log(pi / p)], pi ~ p exp(online)
#   row 0: pi = p = (0.5, 0.25, 0.25): 0.5 + 0.5 + 0.75 = 1.75 -> 1 + 0.875 = 1.875 (g_target: 2.0537587)
#   row 1: pi ~ (0.2 e, 0.3, 0.5) = (0.4046097, 0.2232714, 0.3721190); G- = 0, so the value is
#          -KL(pi || p) = -0.1092151 -> -0.5 - 0.0546076 = -0.5546076
DOUBLE_G_EXPECTED = [1.875, -0.5546076]


def _double_target(name, done):
    alg = targets.get_algorithm(name)
    y = alg.double_target(tf.constant(REWARD), tf.constant(NEXT_VALUES), GAMMA, tf.constant(done),
                          tf.constant(NEXT_LOG_PRIOR), tf.constant(ONLINE_NEXT))
    return np.asarray(y)


@pytest.mark.parametrize("name, expected", [("q", DOUBLE_Q_EXPECTED), ("pure_rl", DOUBLE_Q_EXPECTED),
                                            ("psi", DOUBLE_PSI_EXPECTED), ("g", DOUBLE_G_EXPECTED)])
def test_double_targets_by_hand(name, expected):
    np.testing.assert_allclose(_double_target(name, NOT_DONE), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_double_target(name, DONE), REWARD)  # terminal: the reward alone


@pytest.mark.parametrize("name", ["q", "psi", "g", "pure_rl"])
def test_double_targets_equal_the_plain_ones_when_the_networks_agree(name):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 4)).astype(np.float32) * 3
    log_prior = np.log(rng.dirichlet(np.ones(4), size=5)).astype(np.float32)
    reward = rng.normal(size=5).astype(np.float32)
    alg = targets.get_algorithm(name)
    args = (tf.constant(reward), tf.constant(values), 0.9, tf.zeros(5), tf.constant(log_prior))
    np.testing.assert_allclose(alg.double_target(*args, tf.constant(values)), alg.target(*args), rtol=1e-5, atol=1e-5)
    # and lower for any other online policy (Gibbs' inequality; q: the max is the largest value)
    other = tf.constant(rng.normal(size=(5, 4)).astype(np.float32))
    assert (np.asarray(alg.double_target(*args, other)) <= np.asarray(alg.target(*args)) + 1e-5).all()
