"""What the loop stores (rl_tuner.kl_control.transitions), by hand numbers, and that the loop
(rl_tuner.runner.train._play_episodes) stores exactly that: the reward's log p(a|s) is read at
the state the action was chosen in, next_log_prior is log p(.|s'), state and next_state are the
Q-network's states before and after obs, done follows the terminal rule."""

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from rl_tuner.kl_control import targets  # noqa: E402
from rl_tuner.kl_control import transitions as tr  # noqa: E402

pytestmark = pytest.mark.math

# Two episodes, three tokens. log p(.|s) and log p(.|s') are different on purpose: a mix-up
# of the two changes every reward below.
LOG_PRIOR = np.array([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]], np.float32)
NEXT_LOG_PRIOR = np.array([[-10.0, -20.0, -30.0], [-40.0, -50.0, -60.0]], np.float32)
ACTION = np.array([2, 0], np.int32)
TASK_REWARD = np.array([3.0, -1.0])
C = 0.5


def step(algorithm, adds_log_prior=True, bootstrap=False, done=(True, False)):
    state, next_state = ("state before obs",), ("state after obs",)
    return tr.step_transitions(targets.get_algorithm(algorithm), obs=np.array([7, 8], np.int32), state=state,
                               action=ACTION, log_prior=LOG_PRIOR, next_state=next_state,
                               next_log_prior=NEXT_LOG_PRIOR, task_reward=TASK_REWARD, done=np.array(done),
                               c=C, adds_log_prior=adds_log_prior, bootstrap_final_step=bootstrap)


@pytest.mark.parametrize("algorithm", ["q", "psi"])
def test_q_and_psi_store_the_task_reward_over_c_plus_log_p_of_the_action_at_s(algorithm):
    transitions, log_prob = step(algorithm)
    np.testing.assert_array_equal(log_prob, [-3.0, -4.0])  # log p(2|s_0), log p(0|s_1)
    # r_T / c + log p(a|s): 3 / 0.5 - 3 = 3; -1 / 0.5 - 4 = -6
    np.testing.assert_array_equal(transitions["reward"], [3.0, -6.0])
    assert transitions["reward"].dtype == np.float32


@pytest.mark.parametrize("algorithm", ["g", "pure_rl"])
def test_g_and_pure_rl_store_the_task_reward_over_c(algorithm):
    transitions, _ = step(algorithm)
    np.testing.assert_array_equal(transitions["reward"], [6.0, -2.0])


def test_a_reward_mode_without_log_p_stores_the_task_reward_over_c_for_psi():
    transitions, _ = step("psi", adds_log_prior=False)
    np.testing.assert_array_equal(transitions["reward"], [6.0, -2.0])


def test_states_actions_and_next_log_prior_are_stored_as_played():
    transitions, _ = step("g")
    assert transitions["state"] == ("state before obs",) and transitions["next_state"] == ("state after obs",)
    np.testing.assert_array_equal(transitions["obs"], [7, 8])
    np.testing.assert_array_equal(transitions["action"], ACTION)
    np.testing.assert_array_equal(transitions["next_log_prior"], NEXT_LOG_PRIOR)  # log p(.|s')


def test_done_is_the_end_of_the_episode_unless_the_final_step_bootstraps():
    np.testing.assert_array_equal(step("psi")[0]["done"], [1.0, 0.0])
    np.testing.assert_array_equal(step("psi", bootstrap=True)[0]["done"], [0.0, 0.0])
    np.testing.assert_array_equal(step("psi", done=(False, True))[0]["done"], [0.0, 1.0])
    assert step("psi")[0]["done"].dtype == np.float32


@pytest.mark.parametrize("algorithm, expected", [("psi", [-12.0]), ("q", [-12.0]), ("g", [-8.0]),
                                                 ("pure_rl", [-8.0])])
def test_end_rewards_use_log_p_of_the_end_token_at_s(algorithm, expected):
    # episode 1, end token 0: r_T / c = -4 / 0.5 = -8; log p(0|s_1) = -4
    reward = tr.end_rewards(targets.get_algorithm(algorithm), np.array([-4.0]), LOG_PRIOR, [1], 0, C, True)
    np.testing.assert_array_equal(reward, expected)
    assert reward.dtype == np.float32


def test_end_transitions_share_obs_and_states_take_the_end_token_and_are_terminal():
    state = (tf.constant([[1.0], [2.0]]), tf.constant([[3.0], [4.0]]))
    next_state = (tf.constant([[5.0], [6.0]]), tf.constant([[7.0], [8.0]]))
    played = {"obs": np.array([7, 8], np.int32), "state": state, "action": ACTION,
              "reward": np.array([3.0, -6.0], np.float32), "next_state": next_state,
              "next_log_prior": NEXT_LOG_PRIOR, "done": np.array([0.0, 0.0], np.float32)}
    out = tr.with_end_transitions(played, [1], end_token=0, reward=np.array([-12.0], np.float32))
    np.testing.assert_array_equal(out["obs"], [7, 8, 8])
    np.testing.assert_array_equal(out["action"], [2, 0, 0])
    np.testing.assert_array_equal(out["reward"], [3.0, -6.0, -12.0])
    np.testing.assert_array_equal(out["done"], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(out["state"][0], [[1.0], [2.0], [2.0]])
    np.testing.assert_array_equal(out["state"][1], [[3.0], [4.0], [4.0]])
    np.testing.assert_array_equal(out["next_state"][0], [[5.0], [6.0], [6.0]])
    np.testing.assert_array_equal(out["next_log_prior"], np.concatenate([NEXT_LOG_PRIOR, NEXT_LOG_PRIOR[1:]]))
