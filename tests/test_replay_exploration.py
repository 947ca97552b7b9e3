"""Behaviour tests of the replay memories, the exploration rules and the melody environment."""

import math

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from note_rnn import environment, music_theory  # noqa: E402
from rl_tuner.kl_control import exploration, replay

pytestmark = pytest.mark.math  # the hand-computed math (`python -m pytest -m math`, BUILD.md "Test")

SPEC = {"x": tf.TensorSpec([], tf.int32), "v": tf.TensorSpec([2], tf.float32)}


def items(values):
    values = np.asarray(values, np.int32)
    return {"x": tf.constant(values), "v": tf.constant(np.stack([values, -values], 1).astype(np.float32))}


# --------------------------------------------------------------------------- uniform replay
def test_ring_buffer_keeps_the_last_capacity_items():
    r = replay.UniformReplay(SPEC, capacity=5, seed=0)
    assert int(r.size()) == 0
    r.add(items([0, 1, 2]))
    assert int(r.size()) == 3
    r.add(items([3, 4, 5, 6]))  # 7 added: slots (3, 4, 0, 1) get 3, 4, 5, 6
    assert int(r.size()) == 5
    assert int(r.num_added.numpy()) == 7
    stored = r.gather(tf.range(5, dtype=tf.int64))
    np.testing.assert_array_equal(stored["x"].numpy(), [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(stored["v"].numpy()[:, 1], [-5, -6, -2, -3, -4])
    assert sorted(stored["x"].numpy().tolist()) == [2, 3, 4, 5, 6]  # the last five


def test_sampling_returns_only_stored_indices_and_covers_them():
    r = replay.UniformReplay(SPEC, capacity=10, seed=0)
    r.add(items([10, 11, 12]))  # 3 of 10 slots filled
    idx, batch = r.sample(2000)
    idx = idx.numpy()
    assert set(idx.tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(batch["x"].numpy(), idx + 10)
    # Roughly uniform: each of the 3 about 1/3 of 2000 (a 5-sigma band is +-0.053).
    for i in range(3):
        assert abs(np.mean(idx == i) - 1 / 3) < 0.05


def test_sampling_is_deterministic_for_a_seed():
    def draws(seed):
        r = replay.UniformReplay(SPEC, capacity=50, seed=seed)
        r.add(items(np.arange(50)))
        return [r.sample_indices(16).numpy() for _ in range(3)]

    a, b, c = draws(3), draws(3), draws(4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    assert not np.array_equal(a[0], a[1])  # successive draws differ


def test_uniform_capacity_must_be_positive():
    with pytest.raises(ValueError):
        replay.UniformReplay(SPEC, capacity=0)


# --------------------------------------------------------------------------- prioritized replay
def test_new_items_get_max_priority_and_updates_follow_the_formula():
    r = replay.PrioritizedReplay(SPEC, capacity=8, seed=0)
    r.add(items([0, 1, 2]))
    np.testing.assert_array_equal(r.priorities.numpy()[:3], [1.0, 1.0, 1.0])  # initial max priority 1
    td = np.array([0.5, -3.99, 0.0], np.float32)
    r.update_priorities(tf.constant([0, 1, 2], tf.int64), tf.constant(td))
    # (|td| + 0.01)^0.5: sqrt(0.51) = 0.7141428, sqrt(4.0) = 2.0, sqrt(0.01) = 0.1
    expected = np.power(np.abs(td) + np.float32(0.01), np.float32(0.5))
    np.testing.assert_allclose(r.priorities.numpy()[:3], expected, rtol=1e-6)
    np.testing.assert_allclose(r.priorities.numpy()[:3], [0.7141428, 2.0, 0.1], rtol=1e-6)
    np.testing.assert_allclose(float(r.max_priority.numpy()), 2.0, rtol=1e-6)
    r.add(items([3]))  # a new item gets the largest priority seen so far: 2.0
    np.testing.assert_allclose(r.priorities.numpy()[3], 2.0, rtol=1e-6)
    np.testing.assert_allclose(replay.priority(tf.constant([-0.24])).numpy(), [0.5], rtol=1e-6)


def test_prioritized_sampling_follows_priorities():
    r = replay.PrioritizedReplay(SPEC, capacity=4, seed=1)
    r.add(items([7, 8]))
    # Priorities 1 and 9: td 0.99 -> sqrt(1.0) = 1; td 80.99 -> sqrt(81.0) = 9.
    r.update_priorities(tf.constant([0, 1], tf.int64), tf.constant([0.99, -80.99]))
    np.testing.assert_allclose(r.priorities.numpy()[:2], [1.0, 9.0], rtol=1e-5)
    idx = r.sample_indices(20000).numpy()
    assert set(idx.tolist()) <= {0, 1}
    # Expected 1 / 10 = 10% for index 0 and 90% for index 1.
    assert abs(np.mean(idx == 0) - 0.1) < 0.02
    assert abs(np.mean(idx == 1) - 0.9) < 0.02


def test_prioritized_sampling_only_stored_items():
    r = replay.PrioritizedReplay(SPEC, capacity=100, seed=2)
    r.add(items([1, 2, 3]))
    idx, batch = r.sample(3000)
    assert set(idx.numpy().tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(batch["x"].numpy(), idx.numpy() + 1)


def test_uniform_update_priorities_is_a_no_op():
    r = replay.UniformReplay(SPEC, capacity=4)
    r.add(items([1, 2]))
    r.update_priorities(tf.constant([0], tf.int64), tf.constant([5.0]))
    np.testing.assert_array_equal(r.gather(tf.constant([0, 1], tf.int64))["x"].numpy(), [1, 2])


def test_make_replay():
    assert type(replay.make_replay("uniform", SPEC, 4)) is replay.UniformReplay
    assert type(replay.make_replay("prioritized", SPEC, 4)) is replay.PrioritizedReplay
    with pytest.raises(ValueError) as info:
        replay.make_replay("bad", SPEC, 4)
    assert "uniform" in str(info.value) and "prioritized" in str(info.value)


# --------------------------------------------------------------------------- epsilon
def test_linear_epsilon_schedule():
    eps = lambda step, period: float(exploration.linear_epsilon(step, period, 1.0, 0.1))  # noqa: E731
    assert eps(0, 1000) == pytest.approx(1.0, abs=1e-7)
    # half way: 1 - 0.5 * 0.9 = 0.55
    assert eps(500, 1000) == pytest.approx(0.55, abs=1e-6)
    # a quarter: 1 - 0.25 * 0.9 = 0.775
    assert eps(250, 1000) == pytest.approx(0.775, abs=1e-6)
    assert eps(1000, 1000) == pytest.approx(0.1, abs=1e-7)
    assert eps(5000, 1000) == pytest.approx(0.1, abs=1e-7)
    assert eps(0, 0) == pytest.approx(0.1, abs=1e-7)
    assert eps(10, 0) == pytest.approx(0.1, abs=1e-7)


def test_linear_epsilon_defaults_are_1_and_0_1():
    assert float(exploration.linear_epsilon(0, 10)) == pytest.approx(1.0)
    assert float(exploration.linear_epsilon(10, 10)) == pytest.approx(0.1)


# --------------------------------------------------------------------------- action selection
SEED = tf.constant([3, 4], tf.int64)


def test_egreedy_epsilon_zero_is_argmax():
    logits = np.random.default_rng(0).normal(size=(500, 38)).astype(np.float32)
    a = exploration.select_actions(tf.constant(logits), "egreedy", 0.0, SEED).numpy()
    np.testing.assert_array_equal(a, logits.argmax(-1))
    assert a.dtype == np.int32
    g = exploration.select_actions(tf.constant(logits), "greedy", 0.0, SEED).numpy()
    np.testing.assert_array_equal(g, logits.argmax(-1))


def test_egreedy_epsilon_one_is_uniform_over_all_tokens():
    # All rows prefer token 5, but with epsilon 1 every action is uniform over 0..37.
    n = 38 * 600
    logits = np.zeros((n, 38), np.float32)
    logits[:, 5] = 10.0
    a = exploration.select_actions(tf.constant(logits), "egreedy", 1.0, SEED).numpy()
    counts = np.bincount(a, minlength=38)
    assert len(counts) == 38 and counts.min() > 0  # every token, including 37
    assert counts[37] > 0 and counts[0] > 0
    # uniform: 600 per token expected; sd ~ 24; allow 600 +- 150
    assert np.all(np.abs(counts - 600) < 150)


def test_egreedy_intermediate_epsilon_rate():
    # epsilon 0.5 with 38 tokens: P(not argmax) = 0.5 * 37/38 = 0.48684
    n = 20000
    logits = np.zeros((n, 38), np.float32)
    logits[:, 2] = 5.0
    a = exploration.select_actions(tf.constant(logits), "egreedy", 0.5, SEED).numpy()
    assert abs(np.mean(a != 2) - 0.5 * 37 / 38) < 0.02


def test_boltzmann_follows_softmax():
    p = np.array([0.2, 0.3, 0.5])
    logits = np.tile(np.log(p).astype(np.float32) + 4.0, (20000, 1))  # a constant shift changes nothing
    for mode in ("boltzmann", "sample"):
        a = exploration.select_actions(tf.constant(logits), mode, 0.0, SEED).numpy()
        freq = np.bincount(a, minlength=3) / len(a)
        np.testing.assert_allclose(freq, p, atol=0.02)


def test_select_actions_deterministic_per_seed():
    logits = tf.constant(np.random.default_rng(1).normal(size=(300, 38)).astype(np.float32))
    for mode in ("egreedy", "boltzmann"):
        a = exploration.select_actions(logits, mode, 0.7, SEED).numpy()
        b = exploration.select_actions(logits, mode, 0.7, SEED).numpy()
        c = exploration.select_actions(logits, mode, 0.7, tf.constant([3, 5], tf.int64)).numpy()
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_select_actions_bad_mode():
    with pytest.raises(ValueError):
        exploration.select_actions(tf.zeros([2, 3]), "bad", 0.1, SEED)


def test_policy_statistics_by_hand():
    # pi = (0.5, 0.25, 0.25) (logits shifted by +7: log_softmax normalises them);
    # entropy = -(0.5 ln 0.5 + 2 * 0.25 ln 0.25) = 0.5 ln 2 + ln 2 = 1.5 ln 2 = 1.0397208;
    # KL(pi || uniform) = sum pi (ln pi - ln 1/3) = ln 3 - H = 1.0986123 - 1.0397208 = 0.0588915.
    logits = tf.constant(np.log([[0.5, 0.25, 0.25]]).astype(np.float32) + 7.0)
    log_prior = tf.constant(np.full((1, 3), math.log(1 / 3), np.float32))
    entropy, kl = exploration.policy_statistics(logits, log_prior)
    np.testing.assert_allclose(entropy.numpy(), [1.0397208], rtol=1e-6)
    np.testing.assert_allclose(kl.numpy(), [0.0588915], rtol=1e-5)
    # KL(pi || pi) = 0 and a point-mass-like policy has ~0 entropy.
    _, kl_self = exploration.policy_statistics(logits, tf.math.log(tf.constant([[0.5, 0.25, 0.25]])))
    np.testing.assert_allclose(kl_self.numpy(), [0.0], atol=1e-6)
    # pi = (0.5, 0.25, 0.25), p = (0.25, 0.25, 0.5): KL = 0.5 ln 2 + 0 + 0.25 ln 0.5 = 0.25 ln 2 = 0.1732868
    _, kl2 = exploration.policy_statistics(logits, tf.math.log(tf.constant([[0.25, 0.25, 0.5]])))
    np.testing.assert_allclose(kl2.numpy(), [0.1732868], rtol=1e-5)


# --------------------------------------------------------------------------- environment
def test_reset_draws_all_38_tokens():
    env = environment.MelodyEnvironment(num_envs=8)
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(100):
        first = env.reset(rng)
        assert first.shape == (8,)
        assert first.min() >= 0 and first.max() <= 37
        seen.extend(first.tolist())
    assert set(seen) == set(range(38))  # including 37 (the original drew only 0..36)
    assert env.composition.shape == (8, 0)


def test_episode_steps_and_rewards():
    env = environment.MelodyEnvironment(num_envs=3, num_notes=32)
    env.reset(np.random.default_rng(1))
    rng = np.random.default_rng(2)
    melodies = rng.integers(0, 38, size=(3, 32))
    melodies[0, :8] = [14, 16, 18, 19, 21, 23, 25, 26]  # a motif (4.5 at the 8th note)
    for t in range(32):
        before = env.composition.copy()
        result = env.step(melodies[:, t])
        assert env.composition.shape == (3, t + 1)
        np.testing.assert_array_equal(env.composition[:, :t], before)
        np.testing.assert_array_equal(env.composition[:, t], melodies[:, t])
        expected = music_theory.music_theory_reward(melodies[:, :t], melodies[:, t], 32)
        np.testing.assert_allclose(result.task_reward, expected, rtol=0, atol=1e-12)
        assert set(result.components) == set(music_theory.COMPONENTS)
        np.testing.assert_allclose(sum(result.components.values()), expected, atol=1e-12)
        assert result.done.shape == (3,)
        assert bool(result.done.all()) == (t == 31) and bool(result.done.any()) == (t == 31)
        if t == 7:
            assert result.components["motif"][0] == pytest.approx(4.5)
    with pytest.raises(RuntimeError):
        env.step(melodies[:, 0])
    env.reset(np.random.default_rng(3))
    assert env.composition.shape == (3, 0)
    env.step(melodies[:, 0])  # usable again after reset


def test_task_reward_without_component_tracking():
    env = environment.MelodyEnvironment(num_envs=2, num_notes=32, track_components=False)
    env.reset(np.random.default_rng(4))
    melodies = np.random.default_rng(5).integers(0, 38, size=(2, 32))
    for t in range(32):
        result = env.step(melodies[:, t])
        np.testing.assert_allclose(result.task_reward,
                                   music_theory.music_theory_reward(melodies[:, :t], melodies[:, t], 32))
        assert result.components == {}


def test_step_with_wrong_action_count():
    env = environment.MelodyEnvironment(num_envs=4)
    env.reset(np.random.default_rng(0))
    with pytest.raises(ValueError):
        env.step(np.array([1, 2, 3]))
    with pytest.raises(ValueError):
        env.step(np.array([[1, 2, 3, 4]]))
    assert env.composition.shape == (4, 0)


def test_short_episode_done_at_num_notes():
    env = environment.MelodyEnvironment(num_envs=2, num_notes=4)
    env.reset(np.random.default_rng(0))
    dones = [bool(env.step(np.array([14, 16])).done.all()) for _ in range(4)]
    assert dones == [False, False, False, True]


class _FixedPriming:
    """Stands in for np.random.Generator in reset(): fixed priming tokens."""

    def __init__(self, tokens):
        self.tokens = np.asarray(tokens)

    def integers(self, low, high, size=None):
        assert (low, high) == (0, 38)
        return self.tokens.copy()


def test_scale_mode_uses_the_priming_token_at_beat_0():
    # 'scale' is a valid reward mode (RLConfig.validate accepts it); at beat 0 the original
    # used the priming note as the previous observation.
    env = environment.MelodyEnvironment(num_envs=2, num_notes=32, reward_mode="scale")
    env.reset(_FixedPriming([13, 0]))
    # beat 0: env 0: previous 13 (B3, scale degree 6), note 14 (C4, degree 7):
    #   +0.05 (13 < 14 < 16) + 0.01 (in scale) + 0.8 (next degree) = 0.86
    # env 1: previous 0, note 1: +0.1 (token 1) + 0.05 (0 < 1 < 3), not in the scale -> 0.15
    first = env.step(np.array([14, 1]))
    np.testing.assert_allclose(first.task_reward, [0.86, 0.15], atol=1e-12)
    # beat 1: previous = the last token played: 14 -> 16: 0.05 + 0.01 + 0.8 = 0.86;
    # 1 -> 2: +0.05 (1 < 2 < 3) + 0.01 (2 = C3 in scale), 1 is not in the scale -> 0.06
    second = env.step(np.array([16, 2]))
    np.testing.assert_allclose(second.task_reward, [0.86, 0.06], atol=1e-12)
