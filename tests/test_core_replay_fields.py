"""Behaviour tests of the core changes for the molecule experiment: which transition fields
replay stores (next_log_prior only for g, next_state optional) and their bytes, dict
transitions with extra keys, prioritized replay's running maximum and given priorities, the
learner's new-item priority (max or td), the learner without a stored next_state, priming
tokens of sampling/evaluation/export, task presets, and the new command-line flags.

Every network is tiny (an LSTM of 4 or 8 units).
"""

import json
import os

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.kl_control import agent, replay, targets  # noqa: E402
from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner import cli  # noqa: E402
from rl_tuner.runner import evaluate, train  # noqa: E402
from rl_tuner.models import export, sampling  # noqa: E402
from rl_tuner.runner import config as config_lib  # noqa: E402
from rl_tuner.runner import policy as policy_lib  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner.runner.config import RLConfig  # noqa: E402

from test_learner import C, UNITS, Setup, make_batch, np_loss, np_step, to_tf  # noqa: E402

BASE = ("obs", "state", "action", "reward", "done")


# --------------------------------------------------------------------------- transition_spec, bytes
def transition_bytes(spec) -> int:
    """Bytes one stored transition of ``spec`` takes (all fields are 4-byte numbers; BUILD.md's
    replay memory figures)."""
    return sum(4 * max(1, s.shape.num_elements()) for s in tf.nest.flatten(spec))


@pytest.mark.parametrize("next_log_prior,next_state", [(True, True), (True, False), (False, True), (False, False)])
def test_transition_spec_fields(next_log_prior, next_state):
    spec = agent.transition_spec((4,), 6, next_log_prior=next_log_prior, next_state=next_state)
    expected = set(BASE) | ({"next_log_prior"} if next_log_prior else set()) | ({"next_state"} if next_state else set())
    assert set(spec) == expected
    assert spec["state"] == ((tf.TensorSpec([4], tf.float32), tf.TensorSpec([4], tf.float32)),)
    if next_state:
        assert spec["next_state"] == spec["state"]
    if next_log_prior:
        assert spec["next_log_prior"] == tf.TensorSpec([6], tf.float32)
    # obs 4 + state 2*4*4 + action 4 + reward 4 + done 4 = 48, next_state 32, next_log_prior 6*4 = 24
    assert transition_bytes(spec) == 48 + 32 * next_state + 24 * next_log_prior


def test_transition_spec_defaults_store_everything():
    assert set(agent.transition_spec((4,), 6)) == set(BASE) | {"next_state", "next_log_prior"}


def test_transition_bytes_of_a_1x100_lstm_with_35_classes_by_hand():
    full = agent.transition_spec((100,), 35)
    lean = agent.transition_spec((100,), 35, next_log_prior=False, next_state=False)
    # obs 4 + state (h, c) 2*100*4 = 800 + action 4 + reward 4 + done 4 + next_state 800 + log p 35*4 = 140
    assert transition_bytes(full) == 4 + 800 + 4 + 4 + 4 + 800 + 140 == 1756
    assert transition_bytes(lean) == 4 + 800 + 4 + 4 + 4 == 816
    assert transition_bytes(lean) * 500_000 / 1e9 == pytest.approx(0.408)
    assert transition_bytes(full) * 500_000 / 1e9 == pytest.approx(0.878)
    # psi keeping next_state (the melody default): 1756 - 140
    psi_with_next_state = agent.transition_spec((100,), 35, next_log_prior=False)
    assert transition_bytes(psi_with_next_state) == 1616
    assert transition_bytes(psi_with_next_state) * 500_000 / 1e9 == pytest.approx(0.808)


def test_transition_bytes_of_two_layers():
    spec = agent.transition_spec((8, 6), 38)
    # state: (8 + 8 + 6 + 6) * 4 = 112 twice; 38 * 4 = 152; 4 scalars
    assert transition_bytes(spec) == 16 + 2 * 112 + 152 == 392


def test_only_g_uses_next_log_prior():
    assert {name: a.uses_next_log_prior for name, a in targets.ALGORITHMS.items()} == \
        {"q": False, "psi": False, "g": True, "pure_rl": False}


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("prior") / "tiny")
    checkpoint.save_model(path, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(4,)), seed=0))
    return path


@pytest.mark.parametrize("algorithm,store_next_state", [("psi", True), ("psi", False), ("g", True), ("g", False),
                                                        ("q", False)])
def test_a_run_stores_only_what_its_algorithm_needs(tiny_prior, tmp_path, algorithm, store_next_state):
    cfg = RLConfig(algorithm=algorithm, prior=tiny_prior, store_next_state=store_next_state, replay="prioritized",
                   new_priority="td", replay_capacity=64, batch_size=8, num_envs=8).validate()
    state = train.RunState(cfg, str(tmp_path / "run"))
    expected = set(BASE) | ({"next_log_prior"} if algorithm == "g" else set()) | \
        ({"next_state"} if store_next_state else set())
    assert set(state.replay.spec) == expected
    assert set(state.replay._storage) == expected  # pylint: disable=protected-access
    if algorithm == "g":
        assert state.replay._storage["next_log_prior"].shape == (64, 38)  # pylint: disable=protected-access
    # 4 scalars + state 2*4*4, next_state 32, log p 38*4 = 152
    assert transition_bytes(state.replay.spec) == 48 + 32 * store_next_state + 152 * (algorithm == "g")
    assert state.learner.config.new_priority == "td"
    assert isinstance(state.replay, replay.PrioritizedReplay)


# --------------------------------------------------------------------------- replay.add and select_fields
SPEC = {"x": tf.TensorSpec([], tf.int32), "v": tf.TensorSpec([2], tf.float32)}


def items(values, **extra):
    values = np.asarray(values, np.int32)
    out = {"x": tf.constant(values), "v": tf.constant(np.stack([values, -values], 1).astype(np.float32))}
    out.update({k: tf.constant(v) for k, v in extra.items()})
    return out


@pytest.mark.parametrize("kind", ["uniform", "prioritized"])
def test_add_ignores_fields_outside_the_spec(kind):
    r = replay.make_replay(kind, SPEC, 4, seed=0)
    r.add(items([5, 6], next_log_prior=np.zeros((2, 3), np.float32), extra=np.array([1, 2])))
    assert set(r._storage) == {"x", "v"}  # pylint: disable=protected-access
    stored = r.gather(tf.constant([0, 1], tf.int64))
    assert set(stored) == {"x", "v"}
    np.testing.assert_array_equal(stored["x"].numpy(), [5, 6])
    np.testing.assert_array_equal(stored["v"].numpy(), [[5, -5], [6, -6]])


@pytest.mark.parametrize("kind", ["uniform", "prioritized"])
def test_add_names_missing_fields(kind):
    r = replay.make_replay(kind, {**SPEC, "a": tf.TensorSpec([], tf.int32)}, 4)
    with pytest.raises(ValueError, match=r"^transitions lack the fields \['a', 'v'\]$"):
        r.add({"x": tf.constant([1]), "other": tf.constant([1])})
    assert int(r.num_added.numpy()) == 0


def test_select_fields_keeps_the_spec_order_and_nested_values():
    spec = agent.transition_spec((4,), 6, next_log_prior=False, next_state=False)
    batch = make_batch(np.random.default_rng(0), n=3)  # 8 units, 38 classes: the values need not match the spec
    selected = replay.select_fields(spec, batch)
    assert list(selected) == list(spec)
    assert selected["state"] is batch["state"] and selected["obs"] is batch["obs"]
    with pytest.raises(ValueError, match=r"\['done'\]"):
        replay.select_fields(spec, {k: v for k, v in batch.items() if k != "done"})


# --------------------------------------------------------------------------- prioritized replay numbers
def test_running_max_starts_at_1_and_only_rises():
    r = replay.PrioritizedReplay(SPEC, capacity=8, seed=0)
    assert float(r.max_priority.numpy()) == 1.0
    r.add(items([0, 1]))
    np.testing.assert_array_equal(r.priorities.numpy()[:2], [1.0, 1.0])
    # td 8.99 -> sqrt(9.0) = 3; td -0.15 -> sqrt(0.16) = 0.4
    r.update_priorities(tf.constant([0, 1], tf.int64), tf.constant([8.99, -0.15]))
    np.testing.assert_allclose(r.priorities.numpy()[:2], [3.0, 0.4], rtol=1e-6)
    np.testing.assert_allclose(float(r.max_priority.numpy()), 3.0, rtol=1e-6)
    # smaller priorities later never lower the maximum: td 0.24 -> 0.5
    r.update_priorities(tf.constant([0], tf.int64), tf.constant([0.24]))
    np.testing.assert_allclose(r.priorities.numpy()[:2], [0.5, 0.4], rtol=1e-6)
    np.testing.assert_allclose(float(r.max_priority.numpy()), 3.0, rtol=1e-6)
    r.add(items([2]))  # a new one without given priorities: the running maximum, 3
    np.testing.assert_allclose(r.priorities.numpy()[2], 3.0, rtol=1e-6)


def test_given_priorities_are_stored_exactly_and_raise_the_maximum_only_upward():
    r = replay.PrioritizedReplay(SPEC, capacity=8, seed=0)
    r.add(items([0, 1, 2]), priorities=tf.constant([0.25, 0.5, 0.75]))
    np.testing.assert_array_equal(r.priorities.numpy()[:3], np.float32([0.25, 0.5, 0.75]))
    assert float(r.max_priority.numpy()) == 1.0  # all below the running maximum 1
    r.add(items([3, 4]), priorities=np.array([2.5, 0.125], np.float64))  # cast to float32
    np.testing.assert_array_equal(r.priorities.numpy()[:5], np.float32([0.25, 0.5, 0.75, 2.5, 0.125]))
    assert float(r.max_priority.numpy()) == 2.5
    r.add(items([5]))
    assert float(r.priorities.numpy()[5]) == 2.5
    np.testing.assert_array_equal(r.priorities.numpy()[6:], [0.0, 0.0])  # never added
    # wrapping around: slots 6, 7, 0 get the given priorities
    r.add(items([6, 7, 8]), priorities=tf.constant([0.5, 4.0, 0.0625]))
    np.testing.assert_array_equal(r.priorities.numpy(), np.float32([0.0625, 0.5, 0.75, 2.5, 0.125, 2.5, 0.5, 4.0]))
    assert float(r.max_priority.numpy()) == 4.0


def test_uniform_replay_ignores_given_priorities():
    r = replay.UniformReplay(SPEC, capacity=4)
    r.add(items([1, 2]), priorities=tf.constant([3.0, 4.0]))
    np.testing.assert_array_equal(r.gather(tf.constant([0, 1], tf.int64))["x"].numpy(), [1, 2])
    assert not hasattr(r, "priorities")


def test_sampling_is_proportional_to_priority():
    r = replay.PrioritizedReplay(SPEC, capacity=6, seed=5)
    r.add(items([0, 1, 2, 3]), priorities=tf.constant([1.0, 2.0, 3.0, 4.0]))
    idx = r.sample_indices(200_000).numpy()
    counts = np.bincount(idx, minlength=6)
    assert counts[4:].sum() == 0  # empty slots are never drawn
    freq = counts[:4] / len(idx)
    # expected 1/10 .. 4/10; the standard error is at most sqrt(0.24 / 200000) = 0.0011
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.01)
    expected = len(idx) * np.array([0.1, 0.2, 0.3, 0.4])
    chi2 = float(np.sum((counts[:4] - expected) ** 2 / expected))
    assert chi2 < 16.27  # the 0.999 quantile of chi-square with 3 degrees of freedom


# --------------------------------------------------------------------------- new-item priority through the learner
def prioritized_setup(new_priority, algorithm="psi", next_state=True, batch_size=4):
    s = Setup(algorithm=algorithm, capacity=32, batch_size=batch_size)
    spec = agent.transition_spec((UNITS,), C, next_log_prior=s.algorithm.uses_next_log_prior, next_state=next_state)
    s.replay = replay.PrioritizedReplay(spec, 32, seed=3)
    s.config = agent.LearnerConfig(batch_size=batch_size, new_priority=new_priority)
    s.learner = agent.KLControlLearner(s.q_network, s.target_network, s.algorithm, s.replay, s.config)
    return s


def test_learner_config_new_priority_default_is_max():
    assert agent.LearnerConfig().new_priority == "max"


@pytest.mark.parametrize("algorithm,next_state", [("psi", False), ("psi", True), ("g", True), ("q", False)])
def test_new_priority_td_stores_the_priority_of_each_new_td_error(algorithm, next_state):
    s = prioritized_setup("td", algorithm, next_state)
    batch = to_tf(make_batch(np.random.default_rng(7), n=6, reward_scale=4.0))  # all fields, some unused
    _, td, _, _ = s.learner.loss(replay.select_fields(s.replay.spec, batch))
    expected = replay.priority(td).numpy()
    np.testing.assert_allclose(expected, (np.abs(td.numpy()) + 0.01) ** 0.5, rtol=1e-6)
    assert expected.max() > 1.0 and expected.min() < expected.max()
    s.learner.add_and_train(batch, tf.constant(0))
    assert int(s.learner.train_steps.numpy()) == 0  # nothing trained: the networks are as before
    np.testing.assert_allclose(s.replay.priorities.numpy()[:6], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(s.replay.max_priority.numpy()), expected.max(), rtol=1e-6)
    np.testing.assert_array_equal(s.replay.priorities.numpy()[6:], 0.0)


def test_new_priority_max_stores_the_running_maximum():
    s = prioritized_setup("max")
    batch = to_tf(make_batch(np.random.default_rng(7), n=6, reward_scale=4.0))
    s.learner.add_and_train(batch, tf.constant(0))
    np.testing.assert_array_equal(s.replay.priorities.numpy()[:6], np.ones(6))  # the initial maximum, 1
    s.replay.update_priorities(tf.constant([0], tf.int64), tf.constant([6.24]))  # sqrt(6.25) = 2.5
    s.learner.add_and_train(to_tf(make_batch(np.random.default_rng(8), n=2, reward_scale=4.0)), tf.constant(0))
    np.testing.assert_allclose(s.replay.priorities.numpy()[:8], [2.5, 1, 1, 1, 1, 1, 2.5, 2.5], rtol=1e-6)


def test_new_priority_td_is_not_the_running_maximum():
    # the same transitions, the two rules: the stored priorities differ (the td test can fail)
    got = {}
    for rule in ("max", "td"):
        s = prioritized_setup(rule)
        s.learner.add_and_train(to_tf(make_batch(np.random.default_rng(9), n=6, reward_scale=4.0)), tf.constant(0))
        got[rule] = s.replay.priorities.numpy()[:6]
    assert not np.allclose(got["max"], got["td"])


# --------------------------------------------------------------------------- no stored next_state
@pytest.mark.parametrize("algorithm", ["q", "psi", "g", "pure_rl"])
def test_loss_without_next_state_uses_the_online_state_after_obs(algorithm):
    s = Setup(algorithm)
    full = make_batch(np.random.default_rng(11), n=5, reward_scale=2.0)
    without = {k: v for k, v in full.items() if k != "next_state"}
    loss, td, y, values = s.learner.loss(to_tf(without))
    _, state_after = s.q_network(tf.constant(full["obs"]), network_state=to_tf(full["state"]))
    own = dict(without, next_state=tf.nest.map_structure(lambda t: t.numpy(), state_after))
    loss_own, td_own, y_own, _ = s.learner.loss(to_tf(own))
    np.testing.assert_allclose(loss.numpy(), loss_own.numpy(), rtol=1e-6)
    np.testing.assert_allclose(td.numpy(), td_own.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y.numpy(), y_own.numpy(), rtol=1e-6, atol=1e-6)
    # and by hand: the NumPy LSTM step of the online weights gives that next state
    (h, c), = full["state"]
    _, nh, nc = np_step(s.q_weights(), full["obs"], h.astype(np.float64), c.astype(np.float64))
    expected, _ = np_loss(s.q_weights(), s.target_weights(), dict(full, next_state=((nh, nc),)), algorithm, 0.5)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-4)
    # another next_state gives another loss
    other, _, _, _ = s.learner.loss(to_tf(full))
    assert abs(float(other.numpy()) - float(loss.numpy())) > 1e-3


def test_training_without_next_state_has_no_gradient_through_the_next_state():
    # the bootstrap uses the online network's state after obs, but y is a constant: the
    # gradient equals the one of the same loss with that state given as data
    s = Setup("psi")
    full = make_batch(np.random.default_rng(12), n=5, reward_scale=2.0)
    without = to_tf({k: v for k, v in full.items() if k != "next_state"})
    _, state_after = s.q_network(tf.constant(full["obs"]), network_state=to_tf(full["state"]))
    given = dict(without, next_state=state_after)
    grads = []
    for batch in (without, given):
        with tf.GradientTape() as tape:
            loss, _, _, _ = s.learner.loss(batch)
        grads.append(tape.gradient(loss, s.q_network.trainable_variables))
    assert len(grads[0]) == 5
    for a, b in zip(*grads):
        a, b = tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy()  # the embedding's are sparse
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        assert np.abs(a).max() > 0


def test_psi_loss_does_not_need_next_log_prior():
    s = Setup("psi")
    full = make_batch(np.random.default_rng(13), n=5)
    loss_full, _, _, _ = s.learner.loss(to_tf(full))
    loss_lean, _, _, _ = s.learner.loss(to_tf({k: v for k, v in full.items() if k != "next_log_prior"}))
    np.testing.assert_allclose(loss_lean.numpy(), loss_full.numpy(), rtol=1e-7)


# --------------------------------------------------------------------------- priming tokens
NC, LENGTH, NUM, SEED, TEMP = 6, 7, 9, 21, 0.9


@pytest.fixture(scope="module")
def small_model():
    return model_lib.build(model_lib.SequenceRNNConfig(num_classes=NC, layer_sizes=(4,)), seed=2, name="small")


def manual_samples(step, state, first, length=LENGTH, temperature=TEMP, seed=SEED):
    """Steps a model by hand from priming tokens ``first`` [B], drawing step t with the
    stateless seed (seed, t), as sampling.sample_loop documents."""
    token = tf.constant(first, tf.int32)
    out = []
    for t in range(length):
        logits, state = step(token, state)
        token = tf.random.stateless_categorical(logits / temperature, 1, seed=tf.constant([seed, t], tf.int64),
                                                dtype=tf.int32)[:, 0]
        out.append(token.numpy())
    return np.stack(out, 1)


def model_step(model):
    def step(tokens, state):
        logits, state = model.step(tokens, state)
        return logits, (), state
    return step


def loop(model, first_tokens, seed=SEED, num=NUM, length=LENGTH, temperature=TEMP):
    return sampling.sample_loop(model_step(model), model.zero_state(num), num, length, temperature, seed, NC,
                                first_tokens=first_tokens).numpy()


@pytest.mark.parametrize("k", [0, 3, 5])
def test_a_single_first_token_primes_every_sequence(small_model, k):
    got = loop(small_model, [k])
    assert got.shape == (NUM, LENGTH)
    expected = manual_samples(lambda x, s: small_model.step(x, s), small_model.zero_state(NUM), [k] * NUM)
    np.testing.assert_array_equal(got, expected)


def test_first_tokens_change_the_samples(small_model):
    assert not np.array_equal(loop(small_model, [1]), loop(small_model, [4]))


def test_the_first_sampled_token_follows_the_softmax_after_the_priming_token(small_model):
    n = 20_000
    first = loop(small_model, [3], num=n, length=1, temperature=1.0)[:, 0]
    logits, _ = small_model.step(tf.constant([3], tf.int32), small_model.zero_state(1))
    p = tf.nn.softmax(logits[0]).numpy()
    # standard error at most sqrt(0.25 / 20000) = 0.0035
    np.testing.assert_allclose(np.bincount(first, minlength=NC) / n, p, atol=0.02)


def test_several_first_tokens_are_drawn_uniformly_with_seed_minus_1(small_model):
    choices = [2, 4, 5]
    pick = tf.random.stateless_uniform([NUM], seed=tf.constant([SEED, -1], tf.int64), maxval=3, dtype=tf.int32)
    first = np.array(choices)[pick.numpy()]
    assert len(set(first.tolist())) > 1
    expected = manual_samples(lambda x, s: small_model.step(x, s), small_model.zero_state(NUM), first)
    np.testing.assert_array_equal(loop(small_model, choices), expected)


def test_without_first_tokens_the_priming_token_is_uniform_over_all_classes(small_model):
    # the draws of the previous version (a971ca8^): priming tokens uniform over all C with seed (seed, -1)
    first = tf.random.stateless_uniform([NUM], seed=tf.constant([SEED, -1], tf.int64), maxval=NC, dtype=tf.int32)
    expected = manual_samples(lambda x, s: small_model.step(x, s), small_model.zero_state(NUM), first.numpy())
    np.testing.assert_array_equal(loop(small_model, None), expected)
    np.testing.assert_array_equal(sampling.sample_model(small_model, NUM, LENGTH, TEMP, SEED), expected)
    # all classes: first_tokens=range(C) draws the same priming tokens
    np.testing.assert_array_equal(loop(small_model, list(range(NC))), expected)


def test_first_tokens_and_a_primer_the_primer_wins(small_model):
    primer = tf.constant([2, 1], tf.int32)
    got = sampling.sample_loop(model_step(small_model), small_model.zero_state(NUM), NUM, LENGTH, TEMP, SEED, NC,
                               primer=primer, first_tokens=[4]).numpy()
    plain = sampling.sample_loop(model_step(small_model), small_model.zero_state(NUM), NUM, LENGTH, TEMP, SEED, NC,
                                 primer=primer).numpy()
    np.testing.assert_array_equal(got, plain)
    np.testing.assert_array_equal(got[:, :2], np.tile([2, 1], (NUM, 1)))


@pytest.fixture(scope="module")
def small_policy(small_model):
    q_rnn = model_lib.build(model_lib.SequenceRNNConfig(num_classes=NC, layer_sizes=(4,)), seed=3, name="q_small")
    return policy_lib.Policy(small_model, q_rnn, "psi")


def policy_manual(pol, first, temperature=TEMP, seed=SEED):
    def step(tokens, state):
        logits, _, state = pol.step(tokens, state)
        return logits, state
    return manual_samples(step, pol.zero_state(len(first)), first, temperature=temperature, seed=seed)


def test_evaluate_sample_with_first_tokens(small_policy):
    got = evaluate.sample_policy(small_policy, NUM, LENGTH, TEMP, SEED, first_tokens=[4])
    np.testing.assert_array_equal(got["tokens"], policy_manual(small_policy, [4] * NUM))
    np.testing.assert_array_equal(got["lengths"], [LENGTH] * NUM)
    # the sampler of each first-token set is its own (no stale cache)
    plain = evaluate.sample_policy(small_policy, NUM, LENGTH, TEMP, SEED)["tokens"]
    first = tf.random.stateless_uniform([NUM], seed=tf.constant([SEED, -1], tf.int64), maxval=NC, dtype=tf.int32)
    np.testing.assert_array_equal(plain, policy_manual(small_policy, first.numpy()))
    again = evaluate.sample_policy(small_policy, NUM, LENGTH, TEMP, SEED, first_tokens=(1,))["tokens"]
    np.testing.assert_array_equal(again, policy_manual(small_policy, [1] * NUM))


def test_export_records_first_tokens_and_generate_starts_from_them(small_policy, tmp_path):
    out = str(tmp_path / "exported")
    export.export(small_policy, out, first_tokens=[np.int64(4)], task="toy")
    info = export.load_info(out)
    assert info["first_tokens"] == [4] and info["task"] == "toy"
    with open(os.path.join(out, "policy.json")) as f:
        assert json.load(f)["first_tokens"] == [4]
    loaded = tf.saved_model.load(out)
    got = loaded.generate(num_samples=NUM, max_length=LENGTH, temperature=TEMP, seed=SEED)["tokens"].numpy()
    np.testing.assert_array_equal(got, policy_manual(small_policy, [4] * NUM))
    np.testing.assert_array_equal(got, evaluate.sample_policy(small_policy, NUM, LENGTH, TEMP, SEED, first_tokens=[4])["tokens"])
    plain_dir = str(tmp_path / "plain")
    export.export(small_policy, plain_dir)
    assert export.load_info(plain_dir)["first_tokens"] is None
    loaded_plain = tf.saved_model.load(plain_dir)  # kept referenced: its variables must outlive the call
    plain = loaded_plain.generate(num_samples=NUM, max_length=LENGTH, temperature=TEMP, seed=SEED)["tokens"].numpy()
    np.testing.assert_array_equal(plain, evaluate.sample_policy(small_policy, NUM, LENGTH, TEMP, SEED)["tokens"])
    assert not np.array_equal(plain, got)


# --------------------------------------------------------------------------- task presets
def test_the_smiles_paper_preset():
    cfg = config_lib.from_preset("paper", task="smiles")
    assert cfg.task == "smiles" and cfg.algorithm == "psi"
    assert (cfg.batch_size, cfg.discount, cfg.train_every) == (512, 0.95, 50)
    assert (cfg.replay, cfg.new_priority, cfg.replay_capacity) == ("prioritized", "td", 500_000)
    assert cfg.c == pytest.approx(1 / 0.35) and cfg.c == pytest.approx(2.857142857)
    assert (cfg.learning_rate, cfg.epsilon_start, cfg.epsilon_end) == (1e-4, 0.01, 0.01)
    assert (cfg.steps, cfg.max_length) == (2_500_000, 120)
    assert cfg.store_next_state is False and cfg.reward_mode == "paper"


def test_the_smiles_default_preset_replaces_the_core_default():
    cfg = config_lib.from_preset("default", task="smiles", steps=1000)
    assert (cfg.task, cfg.algorithm, cfg.steps, cfg.batch_size, cfg.new_priority, cfg.exploration) == \
        ("smiles", "g", 1000, 256, "max", "boltzmann")
    assert cfg.head_init == "zero" and cfg.c == 100.0 and cfg.discount == 0.99
    assert config_lib.from_preset(task="smiles").steps == 500_000


@pytest.mark.parametrize("preset", ["default", "paper"])
@pytest.mark.parametrize("task", [{}, {"task": "melody"}, {"task": None}])
def test_melody_presets_are_the_core_presets(preset, task):
    assert config_lib.presets_of("melody") == config_lib.PRESETS
    cfg = config_lib.from_preset(preset, **task)
    # without a prior the task's shipped one is filled in
    import note_rnn
    assert cfg == RLConfig(**config_lib.PRESETS[preset], prior=note_rnn.default_checkpoint()).validate()
    assert (cfg.task, cfg.algorithm, cfg.batch_size, cfg.replay, cfg.new_priority, cfg.store_next_state) == \
        ("melody", "q", 32, "uniform", "max", True)


def test_the_smiles_paper_preset_brings_the_paper_prior_unless_one_is_given():
    from rl_tuner.resources import shipped_checkpoint
    assert config_lib.from_preset("paper", task="smiles").prior == shipped_checkpoint("molecules", "smiles_rnn_paper")
    assert config_lib.from_preset("default", task="smiles").prior == shipped_checkpoint("molecules", "smiles_rnn")
    assert config_lib.from_preset("paper", task="smiles", prior="my/prior").prior == "my/prior"
    assert shipped_checkpoint("molecules", "smiles_rnn_paper").endswith(os.path.join("checkpoints", "smiles_rnn_paper"))


def test_an_unknown_preset_names_the_task():
    with pytest.raises(ValueError, match=r"^unknown preset 'bogus' for task 'smiles'; choose one of paper, default$"):
        config_lib.from_preset("bogus", task="smiles")
    with pytest.raises(ValueError, match=r"^unknown preset 'bogus' for task 'melody'; choose one of paper, default$"):
        config_lib.from_preset("bogus")


def test_an_unknown_new_priority_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^unknown new_priority 'bogus'; choose one of max, td$"):
        RLConfig(new_priority="bogus").validate()
    assert RLConfig(new_priority="td").validate().new_priority == "td"


def test_legacy_configs_mean_max_priority_and_stored_next_state():
    assert RLConfig.LEGACY_DEFAULTS["new_priority"] == "max"
    assert RLConfig.LEGACY_DEFAULTS["store_next_state"] is True


# --------------------------------------------------------------------------- command line
def test_train_new_priority_bogus_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:  # refused while parsing, before anything starts
        run_main(cli.main, ["train", "--new-priority", "bogus", "--out", str(tmp_path / "r")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--new-priority" in err and "'bogus'" in err and "max" in err and "td" in err
    assert not os.path.exists(tmp_path / "r")


def test_train_parses_new_priority():
    args = cli.build_parser().parse_args(["train", "--new-priority", "td", "--out", "x"])
    assert args.new_priority == "td"


@pytest.mark.parametrize("flag", ["--num-samples", "--num-melodies"])
def test_evaluate_num_samples_and_its_alias(flag):
    args = cli.build_parser().parse_args(["evaluate", flag, "7"])
    assert args.num == 7
    assert cli.build_parser().parse_args(["evaluate"]).num == 100_000


@pytest.mark.parametrize("flags,value", [([], None), (["--store-next-state"], True), (["--no-store-next-state"], False)])
def test_train_store_next_state_flag(flags, value):
    # absent: None, so the preset (the smiles presets: False) decides
    args = cli.build_parser().parse_args(["train", "--out", "x", *flags])
    assert args.store_next_state is value


# --------------------------------------------------------------------------- head_init
def _initial_values(tiny_prior, tmp_path, **settings):
    cfg = RLConfig(prior=tiny_prior, replay_capacity=64, batch_size=8, num_envs=8, **settings).validate()
    state = train.RunState(cfg, str(tmp_path / f"run_{settings.get('head_init')}_{settings.get('algorithm')}"))
    tokens = tf.constant([[3, 7, 11, 2, 20]], tf.int32)
    return state, state.q_network.rnn(tokens).numpy()[0], state.prior.rnn(tokens).numpy()[0]


def test_head_init_prior_starts_from_the_prior_logits(tiny_prior, tmp_path):
    state, q, logits = _initial_values(tiny_prior, tmp_path, algorithm="psi", head_init="prior")
    np.testing.assert_allclose(q, logits, atol=1e-6)
    assert state.log_partition_offset == 0.0


def test_head_init_centered_lowers_every_value_by_the_mean_log_partition(tiny_prior, tmp_path):
    state, q, logits = _initial_values(tiny_prior, tmp_path, algorithm="psi", head_init="centered")
    assert state.log_partition_offset != 0.0
    np.testing.assert_allclose(q, logits - state.log_partition_offset, atol=1e-5)
    # the same policy: softmax is unchanged by a shift of all logits of a state
    np.testing.assert_allclose(tf.nn.softmax(q).numpy(), tf.nn.softmax(logits).numpy(), atol=1e-6)
    # the target network starts as a copy
    tokens = tf.constant([[3, 7, 11, 2, 20]], tf.int32)
    np.testing.assert_allclose(state.target_network.rnn(tokens).numpy()[0], q, atol=1e-6)
    # the offset is the mean logsumexp of the prior's logits over its own samples (by hand)
    from rl_tuner.kl_control import networks
    assert networks.mean_log_partition(state.prior.rnn, None, num=256, length=32, seed=3) == \
        pytest.approx(state.log_partition_offset, rel=1e-6)


def test_head_init_zero_makes_g_start_exactly_at_the_prior_and_its_fixed_point(tiny_prior, tmp_path):
    state, q, logits = _initial_values(tiny_prior, tmp_path, algorithm="g", head_init="zero")
    assert np.all(q == 0.0)
    pol = state.policy()
    tokens = tf.constant([5, 9], tf.int32)
    policy_logits, _, _ = pol.step(tokens, pol.zero_state(2))
    prior_logits, _ = state.prior.rnn.step(tokens, state.prior.rnn.zero_state(2))
    np.testing.assert_allclose(tf.nn.log_softmax(policy_logits).numpy(), tf.nn.log_softmax(prior_logits).numpy(),
                               atol=1e-5)
    # with no task reward the G target is 0 + gamma * logsumexp(0 + log p) = 0: no TD error
    rng = np.random.default_rng(0)
    lstm = ((rng.normal(scale=0.5, size=(8, 4)).astype(np.float32), rng.normal(scale=0.5, size=(8, 4)).astype(np.float32)),)
    batch = {"obs": rng.integers(0, 38, 8).astype(np.int32), "state": lstm, "next_state": lstm,
             "action": rng.integers(0, 38, 8).astype(np.int32), "reward": np.zeros(8, np.float32),
             "done": np.zeros(8, np.float32),
             "next_log_prior": tf.nn.log_softmax(tf.random.normal([8, 38], seed=1)).numpy()}
    loss, td, y, _ = state.learner.loss(to_tf(batch))
    assert float(loss) == pytest.approx(0.0, abs=1e-10) and np.allclose(y.numpy(), 0.0, atol=1e-6)


def test_head_init_zero_is_only_for_g():
    for algorithm in ("q", "psi", "pure_rl"):
        with pytest.raises(ValueError, match=f"head_init 'zero' makes the {algorithm} policy uniform"):
            RLConfig(algorithm=algorithm, head_init="zero").validate()
    with pytest.raises(ValueError, match="unknown head_init 'bogus'; choose one of prior, centered, zero"):
        RLConfig(head_init="bogus").validate()
    assert RLConfig.upgrade_stored({})["head_init"] == "prior"  # runs of earlier versions
