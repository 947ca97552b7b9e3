"""Behaviour tests of the learner (rl_tuner.kl_control.agent), the networks and FusedAdam.

The loss is recomputed in NumPy from the networks' weights (an independent LSTM step), the
soft update and the per-tensor clipped TF1 Adam update are recomputed from snapshots.
"""

import numpy as np
import pytest

import note_rnn  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.kl_control import agent, networks, optim, replay, targets  # noqa: E402

UNITS = 8
C = 38
ALGORITHMS = ("q", "psi", "g", "pure_rl")


# --------------------------------------------------------------------------- helpers
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_step(weights, tokens, h, c):
    """One Note-RNN step in NumPy (Keras gate order i, f, c, o); returns (logits, h, c)."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    z = w["lstm_0/kernel"][tokens] + h @ w["lstm_0/recurrent_kernel"] + w["lstm_0/bias"]
    i, f, g, o = np.split(z, 4, axis=-1)
    c2 = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h2 = _sigmoid(o) * np.tanh(c2)
    return h2 @ w["dense/kernel"] + w["dense/bias"], h2, c2


def np_logsumexp(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)))[..., 0]


def np_log_softmax(x):
    return x - np_logsumexp(x)[..., None]


def make_batch(rng, n=4, reward_scale=1.0, done=None):
    """Hand-made transitions (NumPy) in the layout of agent.transition_spec."""
    logits = rng.normal(size=(n, C))
    return {
        "obs": rng.integers(0, C, size=n).astype(np.int32),
        "state": ((rng.normal(scale=0.5, size=(n, UNITS)).astype(np.float32),
                   rng.normal(scale=0.5, size=(n, UNITS)).astype(np.float32)),),
        "action": rng.integers(0, C, size=n).astype(np.int32),
        "reward": (reward_scale * rng.normal(size=n)).astype(np.float32),
        "next_state": ((rng.normal(scale=0.5, size=(n, UNITS)).astype(np.float32),
                        rng.normal(scale=0.5, size=(n, UNITS)).astype(np.float32)),),
        "next_log_prior": np_log_softmax(logits).astype(np.float32),
        "done": (np.zeros(n) if done is None else np.asarray(done)).astype(np.float32),
    }


def to_tf(batch):
    return tf.nest.map_structure(tf.constant, batch)


def np_loss(q_weights, target_weights, batch, algorithm, gamma, double=False):
    """mean((Q(s, a) - y)^2) with Q from (obs, state) and y from the target net on (action, next_state).

    ``double``: the online network's values at s' choose (q) or weight (psi, g) the target's.
    """
    (h, c), = batch["state"]
    values, _, _ = np_step(q_weights, batch["obs"], h.astype(np.float64), c.astype(np.float64))
    q_sa = values[np.arange(len(values)), batch["action"]]
    (nh, nc), = batch["next_state"]
    next_values, _, _ = np_step(target_weights, batch["action"], nh.astype(np.float64), nc.astype(np.float64))
    if double:
        online, _, _ = np_step(q_weights, batch["action"], nh.astype(np.float64), nc.astype(np.float64))
        log_p = batch["next_log_prior"].astype(np.float64)
        if algorithm in ("q", "pure_rl"):
            boot = next_values[np.arange(len(values)), online.argmax(axis=-1)]
        else:
            logits = online if algorithm == "psi" else online + log_p
            log_pi = np_log_softmax(logits)
            kl = log_pi if algorithm == "psi" else log_pi - log_p
            boot = np.sum(np.exp(log_pi) * (next_values - kl), axis=-1)
    elif algorithm in ("q", "pure_rl"):
        boot = next_values.max(axis=-1)
    elif algorithm == "psi":
        boot = np_logsumexp(next_values)
    else:  # g: log sum p exp G
        boot = np_logsumexp(next_values + batch["next_log_prior"].astype(np.float64))
    y = batch["reward"] + gamma * (1.0 - batch["done"]) * boot
    return np.mean((q_sa - y) ** 2), y


class Setup:
    """A tiny Note-RNN, its Q/target networks, the prior, a replay and a learner."""

    def __init__(self, algorithm="q", capacity=64, batch_size=4, perturb_target=True, seed=0, double=False):
        self.pretrained = model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(UNITS,)), seed=seed)
        self.q_network = networks.q_network_from(self.pretrained)
        self.target_network = agent.build_target_network(self.q_network)
        self.prior = networks.Prior(self.pretrained)
        if perturb_target:  # make the target differ from the online network
            rng = np.random.default_rng(seed + 100)
            for v in self.target_network.variables:
                v.assign(v + rng.normal(scale=0.3, size=v.shape).astype(np.float32))
        spec = agent.transition_spec((UNITS,), C)
        self.replay = replay.UniformReplay(spec, capacity, seed=seed)
        self.config = agent.LearnerConfig(batch_size=batch_size, double=double)
        self.algorithm = targets.get_algorithm(algorithm)
        self.learner = agent.KLControlLearner(self.q_network, self.target_network, self.algorithm, self.replay,
                                              self.config)

    def q_weights(self):
        return self.q_network.rnn.get_named_weights()

    def target_weights(self):
        return self.target_network.rnn.get_named_weights()


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


# --------------------------------------------------------------------------- structure
def test_networks_start_from_the_pretrained_weights():
    s = Setup(perturb_target=False)
    pre = s.pretrained.get_named_weights()
    for name, w in pre.items():
        np.testing.assert_array_equal(s.q_weights()[name], w)
        np.testing.assert_array_equal(s.target_weights()[name], w)
        np.testing.assert_array_equal(s.prior.rnn.get_named_weights()[name], w)
    # Independent variables (not shared): changing the Q-network leaves the others alone.
    s.q_network.variables[0].assign_add(tf.ones_like(s.q_network.variables[0]))
    np.testing.assert_array_equal(s.target_weights()["lstm_0/kernel"], pre["lstm_0/kernel"])
    np.testing.assert_array_equal(s.prior.rnn.get_named_weights()["lstm_0/kernel"], pre["lstm_0/kernel"])
    assert s.prior.rnn.trainable_variables == []
    assert s.target_network.trainable_variables == []
    assert len(s.q_network.trainable_variables) == 5


@pytest.mark.math
def test_q_network_step_matches_numpy():
    s = Setup()
    batch = make_batch(np.random.default_rng(1))
    values, state = s.q_network(tf.constant(batch["obs"]), network_state=to_tf(batch["state"]))
    (h, c), = batch["state"]
    expected, eh, ec = np_step(s.q_weights(), batch["obs"], h.astype(np.float64), c.astype(np.float64))
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(state[0][0].numpy(), eh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state[0][1].numpy(), ec, rtol=1e-5, atol=1e-6)


@pytest.mark.math
def test_prior_is_normalised_log_softmax():
    s = Setup()
    tokens = tf.constant([0, 5, 37], tf.int32)
    log_p, _ = s.prior.step(tokens, s.prior.zero_state(3))
    logits, _, _ = np_step(s.pretrained.get_named_weights(), tokens.numpy(), np.zeros((3, UNITS)),
                           np.zeros((3, UNITS)))
    np.testing.assert_allclose(log_p.numpy(), np_log_softmax(logits), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.exp(log_p.numpy()).sum(-1), 1.0, rtol=1e-5)


# --------------------------------------------------------------------------- (a) the loss
@pytest.mark.math
@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_loss_matches_numpy(algorithm, double):
    s = Setup(algorithm, double=double)
    batch = make_batch(np.random.default_rng(2), n=5, done=[0, 0, 1, 0, 0])
    loss, td, y, values = s.learner.loss(to_tf(batch))
    expected_loss, expected_y = np_loss(s.q_weights(), s.target_weights(), batch, algorithm, 0.5, double)
    if double:  # the online network (not the perturbed target) weights the target values: other targets
        assert np.abs(expected_y - np_loss(s.q_weights(), s.target_weights(), batch, algorithm, 0.5)[1]).max() > 1e-3
    np.testing.assert_allclose(y.numpy(), expected_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5, atol=1e-6)
    # The terminal transition (index 2) has y = r exactly.
    assert y.numpy()[2] == batch["reward"][2]
    assert td.shape == (5,) and values.shape == (5, C)


def test_loss_differs_between_algorithms():
    # The same batch and weights give four different targets except q == pure_rl.
    batch = make_batch(np.random.default_rng(3))
    ys = {a: Setup(a).learner.loss(to_tf(batch))[2].numpy() for a in ALGORITHMS}
    np.testing.assert_array_equal(ys["q"], ys["pure_rl"])
    assert not np.allclose(ys["q"], ys["psi"])
    assert not np.allclose(ys["psi"], ys["g"])


@pytest.mark.parametrize("algorithm", ["q", "g"])
def test_compiled_train_loss_matches_numpy(algorithm):
    # A replay holding 4 copies of one transition: every sampled batch is that transition,
    # so the loss returned by train(1) is its squared TD error before the update.
    s = Setup(algorithm)
    one = make_batch(np.random.default_rng(4), n=1)
    four = tf.nest.map_structure(lambda x: np.repeat(x, 4, axis=0), one)
    s.replay.add(to_tf(four))
    expected_loss, expected_y = np_loss(s.q_weights(), s.target_weights(), one, algorithm, 0.5)
    loss, mean_y = s.learner.train(tf.constant(1))
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(mean_y), expected_y[0], rtol=1e-5, atol=1e-6)
    assert int(s.learner.train_steps.numpy()) == 1


# --------------------------------------------------------------------------- (b) frozen prior
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_prior_and_target_unchanged_by_training(algorithm):
    s = Setup(algorithm, perturb_target=False)
    s.replay.add(to_tf(make_batch(np.random.default_rng(5), n=16, reward_scale=10.0)))
    prior_before = s.prior.rnn.get_named_weights()
    q_before = s.q_weights()
    s.learner.add_and_train(to_tf(make_batch(np.random.default_rng(6), n=4, reward_scale=10.0)), tf.constant(3))
    assert int(s.learner.train_steps.numpy()) == 3
    for name, w in s.prior.rnn.get_named_weights().items():
        assert np.array_equal(w, prior_before[name]), f"prior weight {name} changed under {algorithm}"
    # The test can fail: the Q-network did move.
    assert any(not np.array_equal(w, q_before[k]) for k, w in s.q_weights().items())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_gradient_to_prior_or_target(algorithm):
    s = Setup(algorithm)
    batch = to_tf(make_batch(np.random.default_rng(7), n=4))
    prior_vars = list(s.prior.rnn.variables)
    target_vars = list(s.target_network.variables)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(prior_vars + target_vars)
        # log p(.|s') comes from the prior inside the tape, as the actor computes it.
        (nh, nc), = batch["next_state"]
        next_log_prior, _ = s.prior.step(batch["action"], ((nh, nc),))
        batch = dict(batch, next_log_prior=next_log_prior)
        loss = s.learner.loss(batch)[0]
    grads_prior = tape.gradient(loss, prior_vars)
    grads_target = tape.gradient(loss, target_vars)
    grads_q = tape.gradient(loss, s.q_network.trainable_variables)
    assert all(g is None for g in grads_prior), algorithm
    assert all(g is None for g in grads_target), algorithm
    assert all(g is not None for g in grads_q)


# --------------------------------------------------------------------------- (c) soft update
@pytest.mark.parametrize("algorithm", ["q", "g"])
def test_soft_update_after_one_train_step(algorithm):
    s = Setup(algorithm)
    s.replay.add(to_tf(make_batch(np.random.default_rng(8), n=8)))
    old_target = snapshot(s.target_network.variables)
    old_online = snapshot(s.q_network.variables)
    s.learner.train(tf.constant(1))
    new_online = snapshot(s.q_network.variables)
    new_target = snapshot(s.target_network.variables)
    for ot, oo, no, nt in zip(old_target, old_online, new_online, new_target):
        assert not np.array_equal(no, oo)  # the online network was trained first
        # theta- <- 0.99 theta- + 0.01 theta (theta after the Adam step)
        np.testing.assert_allclose(nt, 0.99 * ot + 0.01 * no, rtol=0, atol=1e-6)


def test_build_target_network_copies_weights():
    s = Setup(perturb_target=False)
    for a, b in zip(s.q_network.variables, s.target_network.variables):
        assert a is not b
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# --------------------------------------------------------------------------- (d) clip + Adam
def np_tf1_adam(theta, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """TF1 AdamOptimizer: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); theta -= lr_t m / (sqrt(v) + eps)."""
    theta = np.asarray(theta, np.float64).copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, np.float64)
        lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr_t * m / (np.sqrt(v) + eps)
    return theta


@pytest.mark.math
def test_fused_adam_first_step_by_hand():
    # Step 1: lr_t = 0.01 * sqrt(0.001) / 0.1 = 0.0031623; m = 0.1 g; v = 0.001 g^2;
    # m / sqrt(v) = 0.1 g / (0.031623 |g|) = 3.1623 sign(g) -> the step is 0.01 sign(g):
    # (1, -2, 0.5) -> (0.99, -1.99, 0.49).
    var = tf.Variable([1.0, -2.0, 0.5])
    opt = optim.FusedAdam([var], learning_rate=0.01)
    opt.apply_gradients([(tf.constant([0.1, -0.2, 3.0]), var)])
    np.testing.assert_allclose(var.numpy(), [0.99, -1.99, 0.49], rtol=1e-6)
    assert int(opt.iterations.numpy()) == 1
    np.testing.assert_allclose(opt.beta1_power.numpy(), 0.81, rtol=1e-6)
    np.testing.assert_allclose(opt.beta2_power.numpy(), 0.999 ** 2, rtol=1e-6)


@pytest.mark.math
def test_fused_adam_two_steps_match_numpy():
    theta0 = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    g1 = np.array([[0.1, -0.2], [3.0, 0.0]], np.float32)
    g2 = np.array([[0.5, 0.5], [-1.0, 2.0]], np.float32)
    bias0 = np.array([0.25, -0.75], np.float32)
    gb1 = np.array([1.0, 2.0], np.float32)
    gb2 = np.array([-4.0, 0.125], np.float32)
    var, bias = tf.Variable(theta0), tf.Variable(bias0)
    opt = optim.FusedAdam([var, bias], learning_rate=0.01)
    opt.apply_gradients([(tf.constant(g1), var), (tf.constant(gb1), bias)])
    opt.apply_gradients([(tf.constant(g2), var), (tf.constant(gb2), bias)])
    np.testing.assert_allclose(var.numpy(), np_tf1_adam(theta0, [g1, g2], lr=0.01), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bias.numpy(), np_tf1_adam(bias0, [gb1, gb2], lr=0.01), rtol=1e-6, atol=1e-7)
    # Hand check of element [1, 1] (gradients 0 then 2): m2 = 0.1 * 2 = 0.2, v2 = 0.001 * 4 = 0.004,
    # lr_2 = 0.01 sqrt(1 - 0.999^2) / (1 - 0.81) = 0.01 * 0.0447102 / 0.19 = 0.0023532;
    # step = 0.0023532 * 0.2 / 0.0632456 = 0.0074413 -> 3 - 0.0074413 = 2.9925587.
    np.testing.assert_allclose(var.numpy()[1, 1], 2.9925587, rtol=1e-6)


@pytest.mark.math
def test_train_step_clips_each_gradient_tensor_and_applies_tf1_adam(monkeypatch):
    s = Setup("q")
    variables = s.q_network.trainable_variables
    recorded = []
    original = s.learner.optimizer.apply_gradients

    def spy(grads_and_vars):
        grads_and_vars = list(grads_and_vars)
        recorded.append([g.numpy().copy() for g, _ in grads_and_vars])
        return original(grads_and_vars)

    monkeypatch.setattr(s.learner.optimizer, "apply_gradients", spy)
    theta0 = snapshot(variables)
    raw_norms = []
    for step_seed in (9, 10):
        # A huge reward makes every gradient tensor far larger than the clip norm 5.
        batch = to_tf(make_batch(np.random.default_rng(step_seed), n=4, reward_scale=1e4))
        with tf.GradientTape() as tape:
            loss = s.learner.loss(batch)[0]
        raw = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, variables)]
        s.learner._train_step(batch)
        clipped = recorded[-1]
        for r, g in zip(raw, clipped):
            norm = np.linalg.norm(r)
            raw_norms.append(norm)
            # tf.clip_by_norm: g * 5 / max(||g||, 5), per tensor (not the global norm).
            np.testing.assert_allclose(g, r * 5.0 / max(norm, 5.0), rtol=1e-4, atol=1e-6)
            assert np.linalg.norm(g) <= 5.0 * (1 + 1e-5)
    assert min(raw_norms) > 5.0  # every tensor was actually clipped
    # The variables moved by two TF1 Adam steps on the clipped gradients.
    for i, v in enumerate(variables):
        expected = np_tf1_adam(theta0[i], [recorded[0][i], recorded[1][i]])
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-5, atol=2e-7)


@pytest.mark.math
def test_clip_is_per_tensor_not_global(monkeypatch):
    # Per-tensor clipping: every clipped tensor has norm exactly 5 (a global-norm clip would
    # give tensors of different norms summing in quadrature to 5).
    s = Setup("psi")
    recorded = []
    original = s.learner.optimizer.apply_gradients

    def spy(grads_and_vars):
        grads_and_vars = list(grads_and_vars)
        recorded.append([g.numpy() for g, _ in grads_and_vars])
        return original(grads_and_vars)

    monkeypatch.setattr(s.learner.optimizer, "apply_gradients", spy)
    s.learner._train_step(to_tf(make_batch(np.random.default_rng(11), n=4, reward_scale=1e5)))
    norms = [np.linalg.norm(g) for g in recorded[0]]
    np.testing.assert_allclose(norms, 5.0, rtol=1e-4)


# --------------------------------------------------------------------------- (e) FusedAdam
def test_fused_adam_rejects_other_variables():
    a, b, other = tf.Variable([1.0]), tf.Variable([2.0]), tf.Variable([3.0])
    opt = optim.FusedAdam([a, b])
    g = tf.constant([1.0])
    with pytest.raises(ValueError):
        opt.apply_gradients([(g, a)])  # fewer variables
    with pytest.raises(ValueError):
        opt.apply_gradients([(g, b), (g, a)])  # another order
    with pytest.raises(ValueError):
        opt.apply_gradients([(g, a), (g, other)])  # a different variable
    np.testing.assert_array_equal(a.numpy(), [1.0])
    np.testing.assert_array_equal(other.numpy(), [3.0])
    assert int(opt.iterations.numpy()) == 0
    opt.apply_gradients([(g, a), (g, b)])  # the right list works
    assert int(opt.iterations.numpy()) == 1


def test_learner_config_defaults():
    cfg = agent.LearnerConfig()
    assert (cfg.discount, cfg.learning_rate, cfg.clip_norm, cfg.target_update_rate, cfg.batch_size) == \
        (0.5, 1e-3, 5.0, 0.01, 32)


def test_add_and_train_waits_for_a_full_batch():
    s = Setup("q", batch_size=8)
    s.learner.add_and_train(to_tf(make_batch(np.random.default_rng(12), n=4)), tf.constant(2))
    assert int(s.learner.train_steps.numpy()) == 0  # 4 < batch 8: no step
    s.learner.add_and_train(to_tf(make_batch(np.random.default_rng(13), n=4)), tf.constant(2))
    assert int(s.learner.train_steps.numpy()) == 2
    assert int(s.replay.size().numpy()) == 8


# --------------------------------------------------------------------------- prioritized replay through the learner
def test_prioritized_replay_through_the_learner():
    # Sequence Tutor's rule: a new transition gets the running maximum priority (1.0 at first);
    # a train step replaces the priorities of the transitions it sampled by (|TD| + 0.01)^0.5 of
    # that step's TD errors (computed with the weights before the step); the maximum only grows.
    s = Setup(algorithm="psi", capacity=16, batch_size=4)
    s.replay = replay.PrioritizedReplay(agent.transition_spec((UNITS,), C), 16, seed=3)
    s.learner = agent.KLControlLearner(s.q_network, s.target_network, s.algorithm, s.replay, s.config)
    batch = make_batch(np.random.default_rng(5), n=8, reward_scale=3.0)
    s.replay.add(to_tf(batch))
    np.testing.assert_array_equal(s.replay.priorities.numpy()[:8], np.ones(8))  # the running maximum, 1.0
    _, td_before, _, _ = s.learner.loss(s.replay.gather(tf.range(8, dtype=tf.int64)))
    expected = (np.abs(td_before.numpy()) + 0.01) ** 0.5
    assert expected.max() > 1.0  # some TD errors are large: the maximum will grow
    s.learner.train(tf.constant(1))
    after = s.replay.priorities.numpy()[:8]
    sampled = ~np.isclose(after, 1.0)
    assert 1 <= sampled.sum() <= 4  # at most batch_size distinct transitions were sampled
    np.testing.assert_allclose(after[sampled], expected[sampled], rtol=1e-5)
    np.testing.assert_allclose(s.replay.max_priority.numpy(), max(1.0, expected[sampled].max()), rtol=1e-5)
    # A transition added now gets that maximum.
    s.replay.add(to_tf(make_batch(np.random.default_rng(6), n=1)))
    np.testing.assert_allclose(s.replay.priorities.numpy()[8], s.replay.max_priority.numpy())
